//! A bounded regular expression engine for the XSD `pattern` facet.
//!
//! XSD patterns (XML Schema Part 2, appendix F) are always anchored at both
//! ends and have no back-references, so they are regular. This engine
//! parses a pattern into a small program and runs it as a Pike VM (a
//! breadth-first simulation of the NFA): matching costs at most
//! `len(value) × len(program)` steps, never backtracks, and is further
//! capped by a step budget.
//!
//! Supported: literals and every single-character escape; `.`; the
//! multi-character escapes `\s \S \i \I \c \C \d \D \w \W`; character
//! classes with ranges, negation and subtraction (`[a-z-[aeiou]]`);
//! groups; alternation; the quantifiers `? * + {n} {n,} {n,m}`; the
//! category escapes `\p{…}`/`\P{…}` for the general categories (`L`, `Lu`,
//! `Ll`, `Lt`, `Lm`, `Lo`, `M`, `N`, `Nd`, `Nl`, `No`, `P`, `Z`, `Zs`, `S`,
//! `C`, `Cc` and their relatives) and a set of common `Is…` blocks.
//!
//! Approximations: without Unicode tables the general categories come from
//! Rust's `char` classification (exact for ASCII; letters, digits,
//! whitespace and controls are close to exact elsewhere; marks and
//! non-ASCII punctuation and symbols are approximate). Blocks outside the
//! built-in table are refused with an error, so a pattern is never
//! silently ignored.

use std::fmt;

use crate::names::{is_name_char, is_name_start};

/// The most instructions a compiled pattern may have (counted
/// repetitions are expanded, so `a{1000}` costs 1000).
pub const MAX_PROGRAM: usize = 20_000;
/// The most nested groups and classes in a pattern.
const MAX_NESTING: usize = 64;
/// The most VM steps (thread × character) one match may take.
pub const MAX_STEPS: usize = 20_000_000;

/// Why a pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong, in words.
    pub message: String,
    /// The character offset in the pattern where the problem was found.
    pub offset: usize,
    /// Whether the pattern is valid XSD but uses a feature this engine
    /// lacks (an unknown `\p{Is…}` block), rather than being malformed.
    pub unsupported: bool,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at character {}", self.message, self.offset)
    }
}

impl std::error::Error for PatternError {}

/// Why a value could not be matched (as opposed to not matching).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetExceeded;

/// A set of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    /// Any character except line feed and carriage return (`.`).
    Dot,
    /// One of these inclusive ranges.
    Ranges(Vec<(char, char)>),
    /// A named property.
    Property(Property),
    /// The union of classes.
    Union(Vec<Self>),
    /// Every character not in the class.
    Not(Box<Self>),
    /// The first class minus the second.
    Minus(Box<Self>, Box<Self>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    Space,
    NameStart,
    NameChar,
    Digit,
    Word,
    Category(&'static str),
    Block(char, char),
}

fn is_ascii_punct(c: char) -> bool {
    matches!(
        c,
        '!' | '"'
            | '#'
            | '%'
            | '&'
            | '\''
            | '('
            | ')'
            | '*'
            | ','
            | '-'
            | '.'
            | '/'
            | ':'
            | ';'
            | '?'
            | '@'
            | '['
            | '\\'
            | ']'
            | '_'
            | '{'
            | '}'
    )
}

fn is_ascii_symbol(c: char) -> bool {
    matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
}

fn in_category(cat: &str, c: char) -> bool {
    let letter = c.is_alphabetic() && !c.is_numeric();
    match cat {
        "L" => letter,
        "Lu" => c.is_uppercase(),
        "Ll" => c.is_lowercase(),
        "Lt" => false,
        "Lm" => false,
        "Lo" => letter && !c.is_uppercase() && !c.is_lowercase(),
        "M" | "Mn" | "Mc" | "Me" => {
            matches!(c, '\u{300}'..='\u{36F}' | '\u{483}'..='\u{489}' | '\u{591}'..='\u{5BD}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
        }
        "N" => c.is_numeric(),
        "Nd" => {
            c.is_ascii_digit()
                || matches!(c, '\u{660}'..='\u{669}' | '\u{6F0}'..='\u{6F9}' | '\u{966}'..='\u{96F}' | '\u{9E6}'..='\u{9EF}' | '\u{E50}'..='\u{E59}' | '\u{FF10}'..='\u{FF19}')
        }
        "Nl" | "No" => !c.is_ascii() && c.is_numeric(),
        "P" | "Pc" | "Pd" | "Ps" | "Pe" | "Pi" | "Pf" | "Po" => {
            if c.is_ascii() {
                is_ascii_punct(c)
                    && match cat {
                        "Pc" => c == '_',
                        "Pd" => c == '-',
                        "Ps" => matches!(c, '(' | '[' | '{'),
                        "Pe" => matches!(c, ')' | ']' | '}'),
                        "Pi" | "Pf" => false,
                        "Po" => !matches!(c, '_' | '-' | '(' | '[' | '{' | ')' | ']' | '}'),
                        _ => true,
                    }
            } else {
                matches!(c, '\u{A1}' | '\u{A7}' | '\u{AB}' | '\u{B6}' | '\u{B7}' | '\u{BB}' | '\u{BF}' | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}' | '\u{3001}'..='\u{3003}')
            }
        }
        "Z" | "Zs" | "Zl" | "Zp" => match cat {
            "Zl" => c == '\u{2028}',
            "Zp" => c == '\u{2029}',
            "Zs" => {
                c == ' '
                    || (!c.is_ascii()
                        && c.is_whitespace()
                        && !matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))
            }
            _ => c == ' ' || (!c.is_ascii() && c.is_whitespace() && c != '\u{85}'),
        },
        "S" | "Sm" | "Sc" | "Sk" | "So" => {
            if c.is_ascii() {
                is_ascii_symbol(c)
                    && match cat {
                        "Sm" => matches!(c, '+' | '<' | '=' | '>' | '|' | '~'),
                        "Sc" => c == '$',
                        "Sk" => matches!(c, '^' | '`'),
                        "So" => false,
                        _ => true,
                    }
            } else {
                !c.is_alphanumeric()
                    && !c.is_whitespace()
                    && !c.is_control()
                    && !in_category("P", c)
                    && !in_category("M", c)
            }
        }
        "C" | "Cc" => c.is_control(),
        "Cf" | "Co" | "Cn" | "Cs" => matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{FEFF}'),
        _ => false,
    }
}

const CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
    "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Z", "Zs", "Zl", "Zp", "S", "Sm", "Sc", "Sk", "So", "C",
    "Cc", "Cf", "Co", "Cn",
];

const BLOCKS: &[(&str, char, char)] = &[
    ("BasicLatin", '\u{0}', '\u{7F}'),
    ("Latin-1Supplement", '\u{80}', '\u{FF}'),
    ("LatinExtended-A", '\u{100}', '\u{17F}'),
    ("LatinExtended-B", '\u{180}', '\u{24F}'),
    ("IPAExtensions", '\u{250}', '\u{2AF}'),
    ("SpacingModifierLetters", '\u{2B0}', '\u{2FF}'),
    ("CombiningDiacriticalMarks", '\u{300}', '\u{36F}'),
    ("Greek", '\u{370}', '\u{3FF}'),
    ("Cyrillic", '\u{400}', '\u{4FF}'),
    ("Armenian", '\u{530}', '\u{58F}'),
    ("Hebrew", '\u{590}', '\u{5FF}'),
    ("Arabic", '\u{600}', '\u{6FF}'),
    ("Devanagari", '\u{900}', '\u{97F}'),
    ("Thai", '\u{E00}', '\u{E7F}'),
    ("Hangul Jamo", '\u{1100}', '\u{11FF}'),
    ("LatinExtendedAdditional", '\u{1E00}', '\u{1EFF}'),
    ("GreekExtended", '\u{1F00}', '\u{1FFF}'),
    ("GeneralPunctuation", '\u{2000}', '\u{206F}'),
    ("CurrencySymbols", '\u{20A0}', '\u{20CF}'),
    ("LetterlikeSymbols", '\u{2100}', '\u{214F}'),
    ("NumberForms", '\u{2150}', '\u{218F}'),
    ("Arrows", '\u{2190}', '\u{21FF}'),
    ("MathematicalOperators", '\u{2200}', '\u{22FF}'),
    ("CJKSymbolsandPunctuation", '\u{3000}', '\u{303F}'),
    ("Hiragana", '\u{3040}', '\u{309F}'),
    ("Katakana", '\u{30A0}', '\u{30FF}'),
    ("CJKUnifiedIdeographs", '\u{4E00}', '\u{9FFF}'),
    ("HangulSyllables", '\u{AC00}', '\u{D7A3}'),
    ("PrivateUse", '\u{E000}', '\u{F8FF}'),
    ("HalfwidthandFullwidthForms", '\u{FF00}', '\u{FFEF}'),
    ("Specials", '\u{FFF0}', '\u{FFFF}'),
];

impl Property {
    fn matches(self, c: char) -> bool {
        match self {
            Self::Space => matches!(c, ' ' | '\t' | '\n' | '\r'),
            Self::NameStart => c == ':' || is_name_start(c),
            Self::NameChar => c == ':' || is_name_start(c) || is_name_char(c),
            Self::Digit => in_category("Nd", c),
            Self::Word => {
                !(in_category("P", c)
                    || in_category("Z", c)
                    || in_category("C", c)
                    || c.is_whitespace())
            }
            Self::Category(cat) => in_category(cat, c),
            Self::Block(lo, hi) => (lo..=hi).contains(&c),
        }
    }
}

impl Class {
    /// Tells whether `c` is in the class; classes nest at most
    /// `MAX_NESTING` deep, so recursion is bounded.
    fn matches(&self, c: char) -> bool {
        match self {
            Self::Dot => c != '\n' && c != '\r',
            Self::Ranges(ranges) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi),
            Self::Property(p) => p.matches(c),
            Self::Union(classes) => classes.iter().any(|class| class.matches(c)),
            Self::Not(class) => !class.matches(c),
            Self::Minus(a, b) => a.matches(c) && !b.matches(c),
        }
    }
}

/// The syntax tree of a pattern.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Class(Class),
    Concat(Vec<Self>),
    Alt(Vec<Self>),
    Repeat {
        node: Box<Self>,
        min: u32,
        max: Option<u32>,
    },
}

struct Parser<'p> {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    _pattern: &'p str,
}

type PResult<T> = Result<T, PatternError>;

impl Parser<'_> {
    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(PatternError {
            message: message.into(),
            offset: self.pos,
            unsupported: false,
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.error("the pattern nests too deeply");
        }
        Ok(())
    }

    fn reg_exp(&mut self) -> PResult<Node> {
        self.enter()?;
        let mut branches = vec![self.branch()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            branches.push(self.branch()?);
        }
        // `enter` raised the depth above, so this cannot underflow.
        self.depth -= 1;
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn branch(&mut self) -> PResult<Node> {
        let mut pieces = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            pieces.push(self.piece()?);
        }
        Ok(match pieces.len() {
            0 => Node::Empty,
            1 => pieces.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(pieces),
        })
    }

    fn piece(&mut self) -> PResult<Node> {
        let atom = self.atom()?;
        let (min, max) = match self.peek() {
            Some('?') => (0, Some(1)),
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('{') => {
                self.pos += 1;
                let quantity = self.quantity()?;
                return Ok(Node::Repeat {
                    node: Box::new(atom),
                    min: quantity.0,
                    max: quantity.1,
                });
            }
            _ => return Ok(atom),
        };
        self.pos += 1;
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }

    fn number(&mut self) -> PResult<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = match value.checked_mul(10).and_then(|v| v.checked_add(d)) {
                Some(v) => v,
                None => return self.error("a quantifier is too large"),
            };
            self.pos += 1;
        }
        if self.pos == start {
            return self.error("a quantifier needs a number");
        }
        Ok(value)
    }

    fn quantity(&mut self) -> PResult<(u32, Option<u32>)> {
        let min = self.number()?;
        let max = if self.peek() == Some(',') {
            self.pos += 1;
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number()?)
            }
        } else {
            Some(min)
        };
        if self.bump() != Some('}') {
            return self.error("a quantifier is not closed by `}`");
        }
        if max.is_some_and(|max| max < min) {
            return self.error("a quantifier's maximum is below its minimum");
        }
        Ok((min, max))
    }

    fn atom(&mut self) -> PResult<Node> {
        let Some(c) = self.bump() else {
            return self.error("the pattern ends unexpectedly");
        };
        match c {
            '(' => {
                let inner = self.reg_exp()?;
                if self.bump() != Some(')') {
                    return self.error("a group is not closed by `)`");
                }
                Ok(inner)
            }
            '[' => Ok(Node::Class(self.class_expr()?)),
            '.' => Ok(Node::Class(Class::Dot)),
            '\\' => Ok(Node::Class(self.escape()?)),
            '?' | '*' | '+' | '{' | '}' | ')' | ']' => {
                // `bump` just advanced past this character.
                self.pos -= 1;
                self.error(format!("`{c}` must be escaped here"))
            }
            c => Ok(Node::Class(Class::Ranges(vec![(c, c)]))),
        }
    }

    /// Parses an escape after its backslash.
    fn escape(&mut self) -> PResult<Class> {
        let Some(c) = self.bump() else {
            return self.error("the pattern ends inside an escape");
        };
        let single = |c: char| Ok(Class::Ranges(vec![(c, c)]));
        match c {
            'n' => single('\n'),
            'r' => single('\r'),
            't' => single('\t'),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^' => {
                single(c)
            }
            's' => Ok(Class::Property(Property::Space)),
            'S' => Ok(Class::Not(Box::new(Class::Property(Property::Space)))),
            'i' => Ok(Class::Property(Property::NameStart)),
            'I' => Ok(Class::Not(Box::new(Class::Property(Property::NameStart)))),
            'c' => Ok(Class::Property(Property::NameChar)),
            'C' => Ok(Class::Not(Box::new(Class::Property(Property::NameChar)))),
            'd' => Ok(Class::Property(Property::Digit)),
            'D' => Ok(Class::Not(Box::new(Class::Property(Property::Digit)))),
            'w' => Ok(Class::Property(Property::Word)),
            'W' => Ok(Class::Not(Box::new(Class::Property(Property::Word)))),
            'p' | 'P' => {
                if self.bump() != Some('{') {
                    return self.error("`\\p` must be followed by `{`");
                }
                let mut name = String::new();
                loop {
                    match self.bump() {
                        Some('}') => break,
                        Some(c) if name.len() < 64 => name.push(c),
                        _ => return self.error("a `\\p{…}` escape is not closed"),
                    }
                }
                let property = if let Some(block) = name.strip_prefix("Is") {
                    match BLOCKS.iter().find(|(n, _, _)| *n == block) {
                        Some(&(_, lo, hi)) => Property::Block(lo, hi),
                        None => {
                            return Err(PatternError {
                                message: format!("the block `{name}` is not supported"),
                                offset: self.pos,
                                unsupported: true,
                            });
                        }
                    }
                } else {
                    match CATEGORIES.iter().find(|n| **n == name) {
                        Some(cat) => Property::Category(cat),
                        None => return self.error(format!("unknown category `{name}`")),
                    }
                };
                let class = Class::Property(property);
                Ok(if c == 'P' {
                    Class::Not(Box::new(class))
                } else {
                    class
                })
            }
            other => {
                // `bump` just advanced past this character.
                self.pos -= 1;
                self.error(format!("unknown escape `\\{other}`"))
            }
        }
    }

    /// Parses a character class after its `[`, up to and including `]`.
    fn class_expr(&mut self) -> PResult<Class> {
        self.enter()?;
        let negated = if self.peek() == Some('^') {
            self.pos += 1;
            true
        } else {
            false
        };
        let mut items: Vec<Class> = Vec::new();
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut subtraction = None;
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return self.error("a character class is not closed by `]`");
            };
            match c {
                ']' if !first => {
                    self.pos += 1;
                    break;
                }
                '-' if self.peek_at(1) == Some('[') && !first => {
                    self.pos += 2;
                    subtraction = Some(self.class_expr()?);
                    if self.bump() != Some(']') {
                        return self.error("a class subtraction must end the class");
                    }
                    break;
                }
                '[' => return self.error("`[` must be escaped in a character class"),
                _ => {}
            }
            first = false;
            let start = if c == '\\' {
                self.pos += 1;
                match self.escape()? {
                    Class::Ranges(r) if r.len() == 1 => r.first().map(|&(lo, _)| lo),
                    other => {
                        items.push(other);
                        None
                    }
                }
            } else {
                self.pos += 1;
                Some(c)
            };
            let Some(start) = start else { continue };
            if self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | Some('[') | None)
            {
                self.pos += 1;
                let end = match self.bump() {
                    Some('\\') => match self.escape()? {
                        Class::Ranges(r) if r.len() == 1 => r.first().map(|&(lo, _)| lo),
                        _ => None,
                    },
                    other => other,
                };
                let Some(end) = end else {
                    return self.error("a range must end with a single character");
                };
                if end < start {
                    return self.error("a range ends before it starts");
                }
                ranges.push((start, end));
            } else {
                ranges.push((start, start));
            }
        }
        if !ranges.is_empty() {
            items.push(Class::Ranges(ranges));
        }
        let mut class = if items.len() == 1 {
            items.pop().unwrap_or(Class::Ranges(Vec::new()))
        } else {
            Class::Union(items)
        };
        if negated {
            class = Class::Not(Box::new(class));
        }
        if let Some(minus) = subtraction {
            class = Class::Minus(Box::new(class), Box::new(minus));
        }
        // `enter` raised the depth above, so this cannot underflow.
        self.depth -= 1;
        Ok(class)
    }
}

#[derive(Debug, Clone)]
enum Inst {
    Char(usize),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

/// A compiled XSD pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    program: Vec<Inst>,
    classes: Vec<Class>,
}

struct Compiler {
    program: Vec<Inst>,
    classes: Vec<Class>,
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> PResult<usize> {
        if self.program.len() >= MAX_PROGRAM {
            return Err(PatternError {
                message: format!("the pattern compiles to more than {MAX_PROGRAM} instructions"),
                offset: 0,
                unsupported: true,
            });
        }
        self.program.push(inst);
        // Just pushed, so the program is not empty.
        Ok(self.program.len() - 1)
    }

    fn patch(&mut self, at: usize, inst: Inst) {
        if let Some(slot) = self.program.get_mut(at) {
            *slot = inst;
        }
    }

    fn compile(&mut self, node: &Node, depth: usize) -> PResult<()> {
        if depth > MAX_NESTING * 2 {
            return Err(PatternError {
                message: "the pattern nests too deeply".into(),
                offset: 0,
                unsupported: true,
            });
        }
        match node {
            Node::Empty => Ok(()),
            Node::Class(class) => {
                let index = match self.classes.iter().position(|c| c == class) {
                    Some(i) => i,
                    None => {
                        self.classes.push(class.clone());
                        // Just pushed, so the list is not empty.
                        self.classes.len() - 1
                    }
                };
                self.push(Inst::Char(index)).map(|_| ())
            }
            Node::Concat(nodes) => {
                for node in nodes {
                    self.compile(node, depth + 1)?;
                }
                Ok(())
            }
            Node::Alt(branches) => {
                let mut jumps = Vec::new();
                let count = branches.len();
                for (i, branch) in branches.iter().enumerate() {
                    if i + 1 < count {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.compile(branch, depth + 1)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        let next = self.program.len();
                        self.patch(split, Inst::Split(split + 1, next));
                    } else {
                        self.compile(branch, depth + 1)?;
                    }
                }
                let end = self.program.len();
                for jump in jumps {
                    self.patch(jump, Inst::Jmp(end));
                }
                Ok(())
            }
            Node::Repeat { node, min, max } => {
                for _ in 0..*min {
                    self.compile(node, depth + 1)?;
                }
                match max {
                    None => {
                        // L: split body, end; body; jmp L
                        let split = self.push(Inst::Split(0, 0))?;
                        self.compile(node, depth + 1)?;
                        self.push(Inst::Jmp(split))?;
                        let end = self.program.len();
                        self.patch(split, Inst::Split(split + 1, end));
                    }
                    Some(max) => {
                        let optional = max.saturating_sub(*min);
                        let mut splits = Vec::new();
                        for _ in 0..optional {
                            splits.push(self.push(Inst::Split(0, 0))?);
                            self.compile(node, depth + 1)?;
                        }
                        let end = self.program.len();
                        for split in splits {
                            self.patch(split, Inst::Split(split + 1, end));
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl Pattern {
    /// Compiles an XSD pattern.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        let mut parser = Parser {
            chars: source.chars().collect(),
            pos: 0,
            depth: 0,
            _pattern: source,
        };
        let node = parser.reg_exp()?;
        if parser.pos < parser.chars.len() {
            return parser.error("unbalanced `)`");
        }
        let mut compiler = Compiler {
            program: Vec::new(),
            classes: Vec::new(),
        };
        compiler.compile(&node, 0)?;
        compiler.push(Inst::Match)?;
        Ok(Self {
            source: source.to_owned(),
            program: compiler.program,
            classes: compiler.classes,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Tells whether the whole of `value` matches the pattern, or returns
    /// [`BudgetExceeded`] when that would take more than [`MAX_STEPS`].
    pub fn is_match(&self, value: &str) -> Result<bool, BudgetExceeded> {
        let n = self.program.len();
        let mut current: Vec<usize> = Vec::with_capacity(n);
        let mut next: Vec<usize> = Vec::with_capacity(n);
        let mut seen = vec![usize::MAX; n];
        let mut stack: Vec<usize> = Vec::new();
        let mut steps = 0usize;
        let mut generation = 0usize;
        self.add(
            &mut current,
            &mut seen,
            generation,
            0,
            &mut stack,
            &mut steps,
        )?;
        for c in value.chars() {
            generation += 1;
            next.clear();
            for &pc in &current {
                steps += 1;
                if steps > MAX_STEPS {
                    return Err(BudgetExceeded);
                }
                if let Some(Inst::Char(class)) = self.program.get(pc)
                    && self
                        .classes
                        .get(*class)
                        .is_some_and(|class| class.matches(c))
                {
                    self.add(
                        &mut next,
                        &mut seen,
                        generation,
                        pc + 1,
                        &mut stack,
                        &mut steps,
                    )?;
                }
            }
            std::mem::swap(&mut current, &mut next);
            if current.is_empty() {
                return Ok(false);
            }
        }
        Ok(current
            .iter()
            .any(|&pc| matches!(self.program.get(pc), Some(Inst::Match))))
    }

    /// Adds the thread at `pc` and every thread reachable from it without
    /// consuming a character.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        generation: usize,
        pc: usize,
        stack: &mut Vec<usize>,
        steps: &mut usize,
    ) -> Result<(), BudgetExceeded> {
        stack.clear();
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            *steps += 1;
            if *steps > MAX_STEPS {
                return Err(BudgetExceeded);
            }
            let Some(mark) = seen.get_mut(pc) else {
                continue;
            };
            if *mark == generation {
                continue;
            }
            *mark = generation;
            match self.program.get(pc) {
                Some(Inst::Jmp(to)) => stack.push(*to),
                Some(Inst::Split(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Char(_) | Inst::Match) => list.push(pc),
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        Pattern::new(pattern).unwrap().is_match(value).unwrap()
    }

    #[test]
    fn literals_and_quantifiers() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abc", "xabc"));
        assert!(m("a*b+c?", "bbb"));
        assert!(m("a{2,3}", "aaa"));
        assert!(!m("a{2,3}", "aaaa"));
        assert!(m("a{2,}", "aaaaa"));
        assert!(m("(ab|cd)*", "abcdab"));
        assert!(m("", ""));
        assert!(m("^$", "^$"), "^ and $ are ordinary characters in XSD");
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("[A-Z]{2}[0-9]{3}", "AB123"));
        assert!(!m("[A-Z]{2}[0-9]{3}", "Ab123"));
        assert!(m("[^0-9]+", "abc"));
        assert!(m("[a-z-[aeiou]]+", "bcd"));
        assert!(!m("[a-z-[aeiou]]+", "bad"));
        assert!(m(r"\d{3}-\d{4}", "555-1234"));
        assert!(m(r"\s*\S+", "  x"));
        assert!(m(r"\i\c*", "xs:int"));
        assert!(m(r"[\-+]?\d+(\.\d+)?", "-1.5"));
        assert!(m(r"\p{Lu}\p{Ll}+", "Hello"));
        assert!(m(r"\P{N}+", "abc"));
        assert!(m(r"\p{IsBasicLatin}+", "plain"));
        assert!(!m(r"\p{IsBasicLatin}+", "caf\u{e9}"));
        assert!(m(r"\w+", "abc$"));
        assert!(
            !m(r"\w+", "a_b"),
            "`_` is punctuation, not a word character"
        );
        assert!(m(".+", "a b"));
        assert!(!m(".", "\n"));
        assert!(m("[+\\-]", "-"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "(a",
            "a)",
            "[a",
            "a{2",
            "a{3,2}",
            "*a",
            r"\q",
            r"\p{IsKlingon}",
            r"\p{Xx}",
            "[z-a]",
        ] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
        assert!(Pattern::new("a{100000}").is_err());
        let deep = "(".repeat(100) + &")".repeat(100);
        assert!(Pattern::new(&deep).is_err());
    }

    #[test]
    fn pathological_patterns_stay_linear() {
        let p = Pattern::new("(a*)*b").unwrap();
        let value = "a".repeat(10_000);
        assert_eq!(p.is_match(&value), Ok(false));
        let p = Pattern::new("(a|aa)+").unwrap();
        assert_eq!(p.is_match(&"a".repeat(5000)), Ok(true));
    }
}
