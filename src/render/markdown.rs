//! Text from the workspace (names, paths, addresses) in Markdown that GitHub renders: a PR
//! comment or a job summary. A name is data, never markup: escaped once here, by every
//! Markdown renderer (`plan`, `paths`).

/// `text` as literal characters in Markdown: HTML's special characters and the Markdown
/// punctuation that could start markup become character references, and a line break a
/// space, so a name cannot open an HTML tag, end a table cell, close a code span or start
/// emphasis or a link. The result is inline HTML text: do not put it inside backticks (a
/// code span shows references as typed); wrap it in [`code`] instead.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\\' => out.push_str("&#92;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '~' => out.push_str("&#126;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` in monospace, escaped as [`text`] does: `<code>…</code>`.
pub fn code(text: &str) -> String {
    format!("<code>{}</code>", self::text(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_table_breaking_characters_are_references() {
        assert_eq!(
            text("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(text("a|b"), "a&#124;b");
        assert_eq!(
            text("`x` *y* _z_ [l](u) ~s~ \\"),
            "&#96;x&#96; &#42;y&#42; &#95;z&#95; &#91;l&#93;(u) &#126;s&#126; &#92;"
        );
        assert_eq!(text("a &amp; b\nc"), "a &amp;amp; b c");
        assert_eq!(code("a<b"), "<code>a&lt;b</code>");
    }

    #[test]
    fn plain_names_are_left_as_they_are() {
        assert_eq!(
            text("svc-pipeline ─holds→ Global Administrator"),
            "svc-pipeline ─holds→ Global Administrator"
        );
    }
}
