//! The tokenizer shared by the preprocessor and the parser.
//!
//! It works on one whole file and yields tokens with their original line
//! and column. Comments and line continuations vanish; newlines are kept
//! as tokens because preprocessor directives end at them. Malformed
//! literals become [`Tok::Error`] tokens so that they are only reported
//! when they are actually used (not inside `#if 0`).

use super::diag::{FileId, Loc};

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// An integer literal that fits in 64 bits.
    Int(u64),
    /// A floating literal, with its text.
    Float(f64, String),
    /// A fixed-point literal (`1.5d`): the digits without the suffix.
    Fixed(String),
    Char(u32),
    WChar(u32),
    Str(String),
    WStr(String),
    Punct(&'static str),
    /// A character that starts no token.
    Other(char),
    /// A malformed token, with the message to report if it is used.
    Error(String),
    Newline,
    /// A pragma or file boundary from the preprocessor.
    Pragma(Pragma),
    Eof,
}

/// Pragmas and file boundaries kept in the token stream (and in the
/// syntax tree, as [`DefKind::Pragma`](super::ast::DefKind::Pragma)).
#[derive(Clone, Debug, PartialEq)]
pub enum Pragma {
    /// `#pragma prefix "…"`.
    Prefix(String),
    /// `#pragma ID name "…"`: the name's parts, whether it starts with
    /// `::`, and the id.
    Id(Vec<String>, bool, String),
    /// `#pragma version name major.minor`: as for `Id`, with the version.
    Version(Vec<String>, bool, String),
    /// The tokens that follow come from this (included) file.
    EnterFile(FileId),
    /// Back to the including file.
    ExitFile,
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) loc: Loc,
    /// Whitespace (or a comment) came right before it.
    pub(crate) space_before: bool,
}

const PUNCTS: [&str; 34] = [
    "::", "<<", ">>", "##", "&&", "||", "==", "!=", "<=", ">=", "#", ";", "{", "}", "(", ")", "<",
    ">", ",", ":", "=", "+", "-", "*", "/", "%", "~", "|", "^", "&", "[", "]", "@", "!",
];

/// The largest source file the lexer accepts, in bytes.
pub(crate) const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    src: &'a str,
    line: u32,
    col: u32,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.chars.clone();
        it.next();
        it.next().map(|(_, c)| c)
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    /// Skips backslash-newline pairs at the current position.
    fn skip_continuations(&mut self) -> bool {
        let mut any = false;
        loop {
            if self.peek() == Some('\\') {
                let next = self.peek2();
                if next == Some('\n') {
                    self.bump();
                    self.bump();
                    any = true;
                    continue;
                }
                if next == Some('\r') {
                    let mut it = self.chars.clone();
                    it.next();
                    it.next();
                    if it.next().map(|(_, c)| c) == Some('\n') {
                        self.bump();
                        self.bump();
                        self.bump();
                        any = true;
                        continue;
                    }
                }
            }
            return any;
        }
    }
}

/// Splits a whole file into tokens. Never fails; always ends with `Eof`.
pub(crate) fn lex(src: &str, file: FileId) -> Vec<Token> {
    let mut cur = Cursor {
        chars: src.char_indices().peekable(),
        src,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    let mut space = true;
    loop {
        if cur.skip_continuations() {
            space = true;
        }
        let Some(c) = cur.peek() else { break };
        let loc = Loc {
            file,
            line: cur.line,
            col: cur.col,
        };
        if c == '\n' {
            cur.bump();
            out.push(Token {
                tok: Tok::Newline,
                loc,
                space_before: space,
            });
            space = true;
            continue;
        }
        if c.is_whitespace() {
            cur.bump();
            space = true;
            continue;
        }
        if c == '/' && cur.peek2() == Some('/') {
            while let Some(c) = cur.peek() {
                if c == '\n' {
                    break;
                }
                if cur.skip_continuations() {
                    continue;
                }
                cur.bump();
            }
            space = true;
            continue;
        }
        if c == '/' && cur.peek2() == Some('*') {
            cur.bump();
            cur.bump();
            let mut closed = false;
            while let Some(c) = cur.bump() {
                if c == '*' && cur.peek() == Some('/') {
                    cur.bump();
                    closed = true;
                    break;
                }
            }
            if !closed {
                out.push(Token {
                    tok: Tok::Error("unterminated comment".into()),
                    loc,
                    space_before: true,
                });
            }
            space = true;
            continue;
        }
        let tok = lex_one(&mut cur, c);
        out.push(Token {
            tok,
            loc,
            space_before: space,
        });
        space = false;
    }
    let loc = Loc {
        file,
        line: cur.line,
        col: cur.col,
    };
    out.push(Token {
        tok: Tok::Newline,
        loc,
        space_before: true,
    });
    out.push(Token {
        tok: Tok::Eof,
        loc,
        space_before: true,
    });
    let _ = cur.src;
    out
}

fn lex_one(cur: &mut Cursor<'_>, c: char) -> Tok {
    if c == 'L' && matches!(cur.peek2(), Some('\'' | '"')) {
        cur.bump();
        let q = cur.peek().unwrap_or('"');
        return if q == '\'' {
            match lex_char(cur) {
                Ok(v) => Tok::WChar(v),
                Err(e) => Tok::Error(e),
            }
        } else {
            match lex_string(cur, true) {
                Ok(s) => Tok::WStr(s),
                Err(e) => Tok::Error(e),
            }
        };
    }
    if c.is_ascii_alphabetic() || c == '_' {
        let mut s = String::new();
        while let Some(c) = cur.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c);
                cur.bump();
            } else if !cur.skip_continuations() {
                break;
            }
        }
        return Tok::Ident(s);
    }
    if c.is_ascii_digit() || (c == '.' && cur.peek2().is_some_and(|d| d.is_ascii_digit())) {
        return lex_number(cur);
    }
    if c == '\'' {
        return match lex_char(cur) {
            Ok(v) => Tok::Char(v),
            Err(e) => Tok::Error(e),
        };
    }
    if c == '"' {
        return match lex_string(cur, false) {
            Ok(s) => Tok::Str(s),
            Err(e) => Tok::Error(e),
        };
    }
    let next = cur.peek2();
    for p in PUNCTS {
        let mut pc = p.chars();
        let first = pc.next();
        let second = pc.next();
        if first == Some(c) && (second.is_none() || second == next) {
            cur.bump();
            if second.is_some() {
                cur.bump();
            }
            return Tok::Punct(p);
        }
    }
    cur.bump();
    Tok::Other(c)
}

fn lex_number(cur: &mut Cursor<'_>) -> Tok {
    let mut text = String::new();
    // Take the whole preprocessing number: digits, letters, dots and
    // signs after an exponent letter.
    let mut prev = ' ';
    while let Some(c) = cur.peek() {
        let hex = text.starts_with("0x") || text.starts_with("0X");
        let ok = c.is_ascii_alphanumeric()
            || c == '.'
            || c == '_'
            || ((c == '+' || c == '-') && matches!(prev, 'e' | 'E') && !hex);
        if !ok || text.len() > 4096 {
            break;
        }
        text.push(c);
        prev = c;
        cur.bump();
    }
    classify_number(&text)
}

fn classify_number(text: &str) -> Tok {
    let lower = text.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Tok::Error(format!("malformed hexadecimal literal '{text}'"));
        }
        return match u64::from_str_radix(hex, 16) {
            Ok(v) => Tok::Int(v),
            Err(_) => Tok::Error(format!("Integer literal '{text}' is too big")),
        };
    }
    if let Some(digits) = lower.strip_suffix('d') {
        // Fixed-point literal.
        let ok = !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.chars().filter(|&c| c == '.').count() <= 1
            && digits.chars().any(|c| c.is_ascii_digit());
        if ok {
            return Tok::Fixed(digits.to_owned());
        }
        return Tok::Error(format!("malformed fixed-point literal '{text}'"));
    }
    if lower.chars().all(|c| c.is_ascii_digit()) {
        if lower.len() > 1 && lower.starts_with('0') {
            if !lower.chars().all(|c| ('0'..='7').contains(&c)) {
                return Tok::Error(format!("malformed octal literal '{text}'"));
            }
            return match u64::from_str_radix(&lower, 8) {
                Ok(v) => Tok::Int(v),
                Err(_) => Tok::Error(format!("Integer literal '{text}' is too big")),
            };
        }
        return match lower.parse::<u64>() {
            Ok(v) => Tok::Int(v),
            Err(_) => Tok::Error(format!("Integer literal '{text}' is too big")),
        };
    }
    // Floating literal: digits [. digits] [e [+-] digits]
    let (mant, exp) = match lower.find('e') {
        Some(i) => (&lower[..i], Some(&lower[i + 1..])),
        None => (lower.as_str(), None),
    };
    let mant_ok = mant.chars().all(|c| c.is_ascii_digit() || c == '.')
        && mant.chars().filter(|&c| c == '.').count() <= 1
        && mant.chars().any(|c| c.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    if mant_ok
        && exp_ok
        && let Ok(v) = lower.parse::<f64>()
    {
        return Tok::Float(v, text.to_owned());
    }
    Tok::Error(format!("malformed number '{text}'"))
}

fn lex_escape(cur: &mut Cursor<'_>) -> Result<u32, String> {
    let Some(c) = cur.bump() else {
        return Err("unterminated escape".into());
    };
    Ok(match c {
        'n' => 10,
        't' => 9,
        'v' => 11,
        'b' => 8,
        'r' => 13,
        'f' => 12,
        'a' => 7,
        '\\' => 92,
        '?' => 63,
        '\'' => 39,
        '"' => 34,
        '0'..='7' => {
            let mut v = c as u32 - '0' as u32;
            for _ in 0..2 {
                match cur.peek() {
                    Some(d @ '0'..='7') => {
                        cur.bump();
                        v = v * 8 + (d as u32 - '0' as u32);
                    }
                    _ => break,
                }
            }
            v
        }
        'x' | 'u' => {
            let max = if c == 'x' { 2 } else { 4 };
            let mut v = 0u32;
            let mut n = 0;
            while n < max {
                match cur.peek().and_then(|d| d.to_digit(16)) {
                    Some(d) => {
                        cur.bump();
                        v = v * 16 + d;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                return Err(format!("malformed \\{c} escape"));
            }
            v
        }
        other => return Err(format!("unknown escape sequence '\\{other}'")),
    })
}

fn lex_char(cur: &mut Cursor<'_>) -> Result<u32, String> {
    cur.bump(); // opening quote
    let v = match cur.bump() {
        None | Some('\n') => return Err("unterminated character literal".into()),
        Some('\\') => lex_escape(cur)?,
        Some('\'') => return Err("empty character literal".into()),
        Some(c) => c as u32,
    };
    if cur.peek() != Some('\'') {
        // Skip to the closing quote on this line.
        while let Some(c) = cur.peek() {
            if c == '\n' {
                break;
            }
            cur.bump();
            if c == '\'' {
                break;
            }
        }
        return Err("malformed character literal".into());
    }
    cur.bump();
    Ok(v)
}

fn lex_string(cur: &mut Cursor<'_>, wide: bool) -> Result<String, String> {
    cur.bump(); // opening quote
    let mut s = String::new();
    let mut err = None;
    loop {
        match cur.bump() {
            None | Some('\n') => return Err("unterminated string literal".into()),
            Some('"') => break,
            Some('\\') => {
                // A backslash-newline inside the literal is a line continuation.
                if cur.peek() == Some('\n') {
                    cur.bump();
                    continue;
                }
                if cur.peek() == Some('\r') && cur.peek2() == Some('\n') {
                    cur.bump();
                    cur.bump();
                    continue;
                }
                match lex_escape(cur) {
                    Ok(0) => err = Some("string literal contains a NUL character".to_owned()),
                    Ok(v) => {
                        if !wide && v > 0xff {
                            err = Some("character in string literal out of range".to_owned());
                        }
                        s.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    Err(e) => err = Some(e),
                }
            }
            Some(c) => s.push(c),
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src, FileId(0))
            .into_iter()
            .map(|t| t.tok)
            .filter(|t| *t != Tok::Newline)
            .collect()
    }

    #[test]
    fn literals() {
        assert_eq!(
            kinds("0x1F 017 42")[..3],
            [Tok::Int(31), Tok::Int(15), Tok::Int(42)]
        );
        assert!(matches!(kinds("1.5e3")[0], Tok::Float(v, _) if v == 1500.0));
        assert_eq!(kinds("12.5d")[0], Tok::Fixed("12.5".into()));
        assert_eq!(kinds("'\\x41' L'b'")[..2], [Tok::Char(65), Tok::WChar(98)]);
        assert_eq!(kinds("\"a\\tb\"")[0], Tok::Str("a\tb".into()));
        assert!(matches!(kinds("14e")[0], Tok::Error(_)));
        assert!(matches!(kinds("18446744073709551616")[0], Tok::Error(_)));
        assert_eq!(kinds("a::b>>c")[1], Tok::Punct("::"));
        assert_eq!(kinds("/* x */ a // y\n b").len(), 3);
    }
}
