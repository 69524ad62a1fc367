fn main() -> std::process::ExitCode {
    pimplan::cli::main().into()
}
