//! Files as read from disk, and byte spans into them.
//!
//! Every value of the configuration remembers the file and byte range it was written at,
//! so that a finding can point at it. Nothing past the loader needs to know about the YAML crate.

pub mod include;
pub mod recover;
pub mod yaml;

use std::path::PathBuf;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A 1-based line and column (column counted in characters, as editors do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// One file of the workspace: its path as shown to the user and its text.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user would type it (relative to the working directory when possible).
    pub path: PathBuf,
    /// The text; invalid UTF-8 is replaced so that a finding can still show the line.
    pub text: String,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// The path with forward slashes, as printed in every output format.
    pub fn display_path(&self) -> String {
        self.path.to_string_lossy().replace('\\', "/")
    }

    /// Line and column of a byte offset. A column counts characters, so `é` is one column.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.text[start..end].chars().count() + 1;
        LineCol { line, column }
    }

    /// Byte offset of a 1-based line and character column (the inverse of [`Self::line_col`]).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_len = rest.find('\n').unwrap_or(rest.len());
        rest[..line_len]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(start + line_len, |(i, _)| start + i)
    }

    /// The text of a 1-based line, without its line end.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let rest = &self.text[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].trim_end_matches('\r')
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// All files read for one run, indexed by [`FileId`].
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    /// Files held only to point a finding at (a file no include matches, the state file at
    /// plan time): not part of the workspace, and not counted as checked.
    extra: usize,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    /// Add a file that a finding points into but that is not part of the workspace.
    pub fn add_extra(&mut self, file: SourceFile) -> FileId {
        self.extra += 1;
        self.add(file)
    }

    /// How many files of the workspace were read (the summary's count).
    pub fn checked(&self) -> usize {
        self.files.len() - self.extra.min(self.files.len())
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(u32::try_from(i).unwrap_or(u32::MAX)), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn path(&self, id: FileId) -> String {
        self.get(id)
            .map_or_else(|| "<unknown>".to_owned(), SourceFile::display_path)
    }

    /// The text a span covers, as written (`None` when the span is not in a known file).
    pub fn text(&self, span: Span) -> Option<&str> {
        self.get(span.file)?
            .text
            .get(span.start as usize..span.end as usize)
    }

    pub fn line_col(&self, span: Span) -> LineCol {
        self.get(span.file)
            .map_or(LineCol { line: 1, column: 1 }, |f| {
                f.line_col(span.start as usize)
            })
    }
}

/// Paths as they are joined for display: `dir/name` without a leading `./`.
pub fn join_display(dir: &std::path::Path, rel: &std::path::Path) -> PathBuf {
    if dir.as_os_str().is_empty() || dir == std::path::Path::new(".") {
        rel.to_path_buf()
    } else {
        dir.join(rel)
    }
}
