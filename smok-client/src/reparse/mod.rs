//! Reparse pathpoints (`r…`, HTTP-API.md §7.6): a value computed on the device from other
//! pathpoints by a small expression language — parsed into a tree and evaluated by this crate,
//! never handed to an interpreter. Text from the server cannot do anything but compute.
//!
//! A reparse pathpoint's name is `r`, a type letter (NGTT.md §7) and an expression in which
//! `{name}` stands for the value of pathpoint `name` (braces nest: `{a{b}}` names `a{b}`). The
//! language is the arithmetic subset of Python the published client's expressions use; its
//! grammar is in `docs/client.md`.
//!
//! ```
//! use smok_client::reparse::{ReparsePath, Value};
//! use smok_client::orders::PathpointType;
//!
//! let r = ReparsePath::parse("rf{W1}*0.1 + max({w2}, 0)")?;
//! assert_eq!(r.value_type(), PathpointType::F32);
//! assert_eq!(r.constituents(), ["W1", "w2"]);
//! let v = r.expression().eval(&[Value::Int(215), Value::Int(-3)])?;
//! assert_eq!(v, Value::Float(21.5));
//! assert!(ReparsePath::parse("rf__import__('os')").is_err());
//! # Ok::<(), smok_client::reparse::ExprError>(())
//! ```

mod eval;
mod funcs;
mod lexer;
mod parser;
mod value;

use std::fmt;

use ngtt_proto::payload::{PathpointType, PathpointValue};

pub use funcs::FUNCTIONS;
pub use lexer::MAX_EXPRESSION_LEN;
pub use parser::{Expr, MAX_ARGS, MAX_DEPTH};
pub use value::{Value, MAX_STRING_LEN};

pub(crate) use funcs::round_to;

/// Why an expression could not be parsed or evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", position.map(|p| format!(" (at byte {p})")).unwrap_or_default())]
pub struct ExprError {
    /// Where in the expression the parser gave up (`None` for evaluation errors).
    pub position: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        ExprError {
            position: Some(position),
            message: message.into(),
        }
    }

    pub(crate) fn eval(message: impl Into<String>) -> Self {
        ExprError {
            position: None,
            message: message.into(),
        }
    }
}

/// A parsed expression and the pathpoints it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Expression {
    tree: Expr,
    constituents: Vec<String>,
}

impl Expression {
    /// Parses `text`: fails with the position of the first problem.
    pub fn parse(text: &str) -> Result<Expression, ExprError> {
        let (tokens, constituents) = lexer::tokenize(text)?;
        let tree = parser::Parser::new(tokens, text.len()).parse()?;
        Ok(Expression { tree, constituents })
    }

    /// The pathpoints the expression reads, in order of first appearance; `values[n]` of
    /// [`Expression::eval`] is the value of the n-th.
    pub fn constituents(&self) -> &[String] {
        &self.constituents
    }

    /// The parsed tree.
    pub fn tree(&self) -> &Expr {
        &self.tree
    }

    /// Evaluates the expression with `values` for its constituents.
    pub fn eval(&self, values: &[Value]) -> Result<Value, ExprError> {
        if values.len() != self.constituents.len() {
            return Err(ExprError::eval(format!(
                "{} value(s) given for {} pathpoint(s)",
                values.len(),
                self.constituents.len()
            )));
        }
        eval::eval(&self.tree, values)
    }
}

/// A reparse pathpoint's name, parsed: its type and its expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ReparsePath {
    name: String,
    value_type: PathpointType,
    expression: Expression,
}

impl ReparsePath {
    /// Parses a reparse pathpoint's name (`r`, a type letter, an expression).
    pub fn parse(name: &str) -> Result<ReparsePath, ExprError> {
        let mut chars = name.chars();
        if chars.next() != Some('r') {
            return Err(ExprError::new(0, "a reparse pathpoint's name starts with r"));
        }
        let value_type = PathpointType::of(name)
            .map_err(|_| ExprError::new(1, "r must be followed by a type letter (B, W, w, f, d, u)"))?
            .0;
        let expression = Expression::parse(&name[2..]).map_err(|mut e| {
            e.position = e.position.map(|p| p + 2);
            e
        })?;
        Ok(ReparsePath {
            name: name.to_owned(),
            value_type,
            expression,
        })
    }

    /// The full name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type of its values: that of the letter after `r`.
    pub fn value_type(&self) -> PathpointType {
        self.value_type
    }

    /// The expression.
    pub fn expression(&self) -> &Expression {
        &self.expression
    }

    /// The pathpoints it is computed from.
    pub fn constituents(&self) -> &[String] {
        self.expression.constituents()
    }

    /// Evaluates it over `values` and coerces the result to its type.
    pub fn compute(&self, values: &[PathpointValue]) -> Result<PathpointValue, ExprError> {
        let values: Vec<Value> = values.iter().map(Value::from).collect();
        let result = self.expression.eval(&values)?.into_pathpoint_value();
        self.value_type
            .coerce(&result)
            .map_err(|e| ExprError::eval(format!("the result does not fit {:?}: {e}", self.value_type)))
    }
}

impl fmt::Display for ReparsePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests;
