//! The parser of the reparse expression language: tokens to an [`Expr`] tree, by recursive
//! descent with a depth limit (the grammar is in `docs/client.md`).

use super::lexer::Token;
use super::ExprError;

/// Deepest nesting of sub-expressions accepted.
pub const MAX_DEPTH: usize = 64;

/// Most arguments a function call may have.
pub const MAX_ARGS: usize = 32;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// `True` or `False`.
    Bool(bool),
    /// The value of constituent pathpoint number `n`.
    Var(usize),
    /// A unary operator: `-`, `+` or `not`.
    Unary(&'static str, Box<Expr>),
    /// A binary arithmetic operator: `+ - * / // % **`.
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// A chain of comparisons, `a < b <= c` meaning `a < b and b <= c`.
    Compare(Box<Expr>, Vec<(&'static str, Expr)>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `then if condition else otherwise`.
    If {
        /// The condition.
        condition: Box<Expr>,
        /// Its value when true.
        then: Box<Expr>,
        /// Its value when false.
        otherwise: Box<Expr>,
    },
    /// A call of a built-in function.
    Call(String, Vec<Expr>),
}

pub(crate) struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    pub(crate) fn new(tokens: Vec<(usize, Token)>, text_len: usize) -> Self {
        Parser {
            tokens,
            at: 0,
            depth: 0,
            end: text_len,
        }
    }

    /// The whole token list as one expression.
    pub(crate) fn parse(mut self) -> Result<Expr, ExprError> {
        if self.tokens.is_empty() {
            return Err(ExprError::new(0, "an empty expression"));
        }
        let expr = self.expr()?;
        match self.tokens.get(self.at) {
            None => Ok(expr),
            Some((pos, t)) => Err(ExprError::new(*pos, format!("unexpected {}", describe(t)))),
        }
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == name)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if *o == op)
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(
                self.position(),
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.enter()?;
        let then = self.or()?;
        let result = if self.is_name("if") {
            self.at += 1;
            let condition = self.or()?;
            if !self.is_name("else") {
                return Err(ExprError::new(self.position(), "`if` without `else`"));
            }
            self.at += 1;
            let otherwise = self.expr()?;
            Expr::If {
                condition: Box::new(condition),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            }
        } else {
            then
        };
        self.depth -= 1;
        Ok(result)
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.is_name("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.not()?;
        while self.is_name("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.is_name("not") {
            self.at += 1;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Unary("not", Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let first = self.sum()?;
        let mut rest = Vec::new();
        while let Some(Token::Op(op @ ("<" | "<=" | ">" | ">=" | "==" | "!="))) = self.peek() {
            let op = *op;
            self.at += 1;
            rest.push((op, self.sum()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), rest)
        })
    }

    fn sum(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        while let Some(Token::Op(op @ ("+" | "-"))) = self.peek() {
            let op = *op;
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while let Some(Token::Op(op @ ("*" | "/" | "//" | "%"))) = self.peek() {
            let op = *op;
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if let Some(Token::Op(op @ ("-" | "+"))) = self.peek() {
            let op = *op;
            self.at += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Unary(op, Box::new(inner)));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ExprError> {
        let base = self.atom()?;
        if self.is_op("**") {
            self.at += 1;
            self.enter()?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Binary("**", Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let pos = self.position();
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return Err(ExprError::new(pos, "the expression ends too early"));
        };
        self.at += 1;
        match token {
            Token::Int(v) => Ok(Expr::Int(v)),
            Token::Float(v) => Ok(Expr::Float(v)),
            Token::Str(s) => Ok(Expr::Str(s)),
            Token::Var(k) => Ok(Expr::Var(k)),
            Token::LParen => {
                let inner = self.expr()?;
                self.expect_close(pos)?;
                Ok(inner)
            }
            Token::Name(name) => match name.as_str() {
                "True" => Ok(Expr::Bool(true)),
                "False" => Ok(Expr::Bool(false)),
                "if" | "else" | "and" | "or" | "not" => {
                    Err(ExprError::new(pos, format!("unexpected `{name}`")))
                }
                _ => {
                    if !super::FUNCTIONS.contains(&name.as_str()) {
                        return Err(ExprError::new(
                            pos,
                            format!(
                                "unknown function `{name}` (known: {})",
                                super::FUNCTIONS.join(", ")
                            ),
                        ));
                    }
                    if self.peek() != Some(&Token::LParen) {
                        return Err(ExprError::new(
                            pos,
                            format!("unknown name `{name}` (pathpoints are written {{name}})"),
                        ));
                    }
                    self.at += 1;
                    self.enter()?;
                    let args = self.arguments(pos)?;
                    self.depth -= 1;
                    Ok(Expr::Call(name, args))
                }
            },
            other => Err(ExprError::new(pos, format!("unexpected {}", describe(&other)))),
        }
    }

    fn arguments(&mut self, open: usize) -> Result<Vec<Expr>, ExprError> {
        let mut args = Vec::new();
        if self.peek() == Some(&Token::RParen) {
            self.at += 1;
            return Ok(args);
        }
        loop {
            if args.len() == MAX_ARGS {
                return Err(ExprError::new(
                    self.position(),
                    format!("more than {MAX_ARGS} arguments"),
                ));
            }
            args.push(self.expr()?);
            match self.peek() {
                Some(Token::Comma) => {
                    self.at += 1;
                    if self.peek() == Some(&Token::RParen) {
                        self.at += 1;
                        return Ok(args);
                    }
                }
                _ => {
                    self.expect_close(open)?;
                    return Ok(args);
                }
            }
        }
    }

    fn expect_close(&mut self, open: usize) -> Result<(), ExprError> {
        match self.peek() {
            Some(Token::RParen) => {
                self.at += 1;
                Ok(())
            }
            Some(t) => Err(ExprError::new(
                self.position(),
                format!("expected ) for the ( at {open}, found {}", describe(t)),
            )),
            None => Err(ExprError::new(self.end, format!("no ) for the ( at {open}"))),
        }
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Int(v) => format!("number {v}"),
        Token::Float(v) => format!("number {v}"),
        Token::Str(_) => "a string".into(),
        Token::Name(n) => format!("`{n}`"),
        Token::Var(_) => "a pathpoint".into(),
        Token::Op(o) => format!("`{o}`"),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::Comma => "`,`".into(),
    }
}
