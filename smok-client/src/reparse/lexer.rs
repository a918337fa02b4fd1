//! Tokens of the reparse expression language, with `{pathpoint}` placeholders resolved to
//! variable numbers.

use super::ExprError;

/// Tokens with their byte offsets, and the pathpoints the placeholders name.
pub(crate) type Tokens = (Vec<(usize, Token)>, Vec<String>);

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Token {
    Int(i64),
    Float(f64),
    Str(String),
    Name(String),
    /// A placeholder: the index of its pathpoint in the expression's list of constituents.
    Var(usize),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

/// Operators, longest first so that `**` wins over `*`.
const OPERATORS: [&str; 16] = [
    "**", "//", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "!", "=", "&",
];

/// The tokens of `text` (each with its byte offset) and the pathpoints its placeholders name,
/// in order of first appearance; a pathpoint named twice is one variable.
pub(crate) fn tokenize(text: &str) -> Result<Tokens, ExprError> {
    if text.len() > MAX_EXPRESSION_LEN {
        return Err(ExprError::new(
            0,
            format!(
                "the expression is {} bytes long, more than {MAX_EXPRESSION_LEN}",
                text.len()
            ),
        ));
    }
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'{' => {
                let mut depth = 0usize;
                let mut end = None;
                for (k, &b) in bytes.iter().enumerate().skip(i) {
                    match b {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(k);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| ExprError::new(start, "no matching } for this {"))?;
                let path = &text[i + 1..end];
                if path.is_empty() {
                    return Err(ExprError::new(start, "an empty placeholder {}"));
                }
                let index = match paths.iter().position(|p| p == path) {
                    Some(k) => k,
                    None => {
                        paths.push(path.to_owned());
                        paths.len() - 1
                    }
                };
                tokens.push((start, Token::Var(index)));
                i = end + 1;
            }
            b'}' => return Err(ExprError::new(start, "a } without its {")),
            b'(' => {
                tokens.push((start, Token::LParen));
                i += 1;
            }
            b')' => {
                tokens.push((start, Token::RParen));
                i += 1;
            }
            b',' => {
                tokens.push((start, Token::Comma));
                i += 1;
            }
            b'\'' | b'"' => {
                let (s, next) = string(text, i)?;
                tokens.push((start, Token::Str(s)));
                i = next;
            }
            b'0'..=b'9' | b'.' => {
                let (t, next) = number(text, i)?;
                tokens.push((start, t));
                i = next;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map_or(bytes.len(), |n| i + n);
                tokens.push((start, Token::Name(text[i..end].to_owned())));
                i = end;
            }
            _ => {
                let op = OPERATORS
                    .iter()
                    .find(|op| text[i..].starts_with(**op))
                    .ok_or_else(|| {
                        let ch = text[i..].chars().next().unwrap_or('?');
                        ExprError::new(start, format!("unexpected character {ch:?}"))
                    })?;
                if matches!(*op, "!" | "=" | "&") {
                    return Err(ExprError::new(start, format!("unknown operator {op:?}")));
                }
                tokens.push((start, Token::Op(op)));
                i += op.len();
            }
        }
    }
    Ok((tokens, paths))
}

/// A quoted string starting at `at`; returns it and the offset after the closing quote.
fn string(text: &str, at: usize) -> Result<(String, usize), ExprError> {
    let quote = text.as_bytes()[at] as char;
    let mut out = String::new();
    let mut chars = text[at + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, at + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => out.push('\0'),
                Some((_, e @ ('\\' | '\'' | '"'))) => out.push(e),
                Some((_, e)) => {
                    out.push('\\');
                    out.push(e);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(ExprError::new(at, "a string without its closing quote"))
}

/// A number starting at `at`: decimal integers, `0x`/`0o`/`0b` integers, floats with a
/// fraction and/or exponent. Returns it and the offset after it.
fn number(text: &str, at: usize) -> Result<(Token, usize), ExprError> {
    let bytes = text.as_bytes();
    let rest = &text[at..];
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = rest.strip_prefix(prefix) {
            let len = digits
                .bytes()
                .position(|b| !b.is_ascii_alphanumeric())
                .unwrap_or(digits.len());
            let value = i64::from_str_radix(&digits[..len], radix)
                .map_err(|e| ExprError::new(at, format!("bad number {:?}: {e}", &rest[..2 + len])))?;
            return Ok((Token::Int(value), at + 2 + len));
        }
    }
    let mut end = at;
    let mut is_float = false;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end < bytes.len() && bytes[end] == b'.' {
        is_float = true;
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut e = end + 1;
        if e < bytes.len() && (bytes[e] == b'+' || bytes[e] == b'-') {
            e += 1;
        }
        if e < bytes.len() && bytes[e].is_ascii_digit() {
            is_float = true;
            end = e;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
    }
    let literal = &text[at..end];
    if literal == "." {
        return Err(ExprError::new(at, "a lone ."));
    }
    if end < bytes.len() && (bytes[end].is_ascii_alphabetic() || bytes[end] == b'_') {
        return Err(ExprError::new(at, format!("bad number {:?}", &text[at..=end])));
    }
    let token = if is_float {
        Token::Float(
            literal
                .parse()
                .map_err(|e| ExprError::new(at, format!("bad number {literal:?}: {e}")))?,
        )
    } else {
        match literal.parse::<i64>() {
            Ok(v) => Token::Int(v),
            // Larger than i64: Python would keep it exact; a float is the closest we keep.
            Err(_) => Token::Float(
                literal
                    .parse()
                    .map_err(|e| ExprError::new(at, format!("bad number {literal:?}: {e}")))?,
            ),
        }
    };
    Ok((token, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_nest_and_repeat() {
        let (tokens, paths) = tokenize("{W1{a}}+{d2}*{W1{a}}").unwrap();
        assert_eq!(paths, ["W1{a}", "d2"]);
        let vars: Vec<_> = tokens
            .iter()
            .filter_map(|(_, t)| match t {
                Token::Var(k) => Some(*k),
                _ => None,
            })
            .collect();
        assert_eq!(vars, [0, 1, 0]);
    }

    #[test]
    fn numbers_and_strings() {
        let (t, _) = tokenize("1 2.5 .5 1e3 0x1F 'a\\'b' \"c\"").unwrap();
        let t: Vec<_> = t.into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            t,
            [
                Token::Int(1),
                Token::Float(2.5),
                Token::Float(0.5),
                Token::Float(1000.0),
                Token::Int(31),
                Token::Str("a'b".into()),
                Token::Str("c".into())
            ]
        );
    }

    #[test]
    fn errors_have_positions() {
        for (bad, at) in [
            ("{W1", 0),
            ("1 + }", 4),
            ("2 $ 3", 2),
            ("'open", 0),
            ("{}", 0),
            ("1 = 2", 2),
        ] {
            let e = tokenize(bad).unwrap_err();
            assert_eq!(e.position, Some(at), "{bad}: {e}");
        }
        assert!(tokenize(&"1+".repeat(3000)).is_err());
    }
}
