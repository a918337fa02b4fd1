//! Evaluation of a parsed [`Expr`] over the values of its constituents: Python's semantics for
//! the operators it has, with checked integer arithmetic and bounded strings.

use std::cmp::Ordering;

use super::funcs;
use super::parser::Expr;
use super::value::{Num, Value, MAX_STRING_LEN};
use super::ExprError;

/// Evaluates `expr`, `vars[n]` standing for placeholder number `n`.
pub(crate) fn eval(expr: &Expr, vars: &[Value]) -> Result<Value, ExprError> {
    Ok(match expr {
        Expr::Int(v) => Value::Int(*v),
        Expr::Float(v) => Value::Float(*v),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Var(k) => vars
            .get(*k)
            .cloned()
            .ok_or_else(|| ExprError::eval(format!("no value for pathpoint number {k}")))?,
        Expr::Unary(op, inner) => unary(op, eval(inner, vars)?)?,
        Expr::Binary(op, l, r) => binary(op, eval(l, vars)?, eval(r, vars)?)?,
        Expr::Compare(first, rest) => {
            let mut left = eval(first, vars)?;
            for (op, right) in rest {
                let right = eval(right, vars)?;
                if !compare(op, &left, &right)? {
                    return Ok(Value::Bool(false));
                }
                left = right;
            }
            Value::Bool(true)
        }
        Expr::And(l, r) => {
            let left = eval(l, vars)?;
            if left.truthy() {
                eval(r, vars)?
            } else {
                left
            }
        }
        Expr::Or(l, r) => {
            let left = eval(l, vars)?;
            if left.truthy() {
                left
            } else {
                eval(r, vars)?
            }
        }
        Expr::If {
            condition,
            then,
            otherwise,
        } => {
            if eval(condition, vars)?.truthy() {
                eval(then, vars)?
            } else {
                eval(otherwise, vars)?
            }
        }
        Expr::Call(name, args) => {
            let args = args
                .iter()
                .map(|a| eval(a, vars))
                .collect::<Result<Vec<_>, _>>()?;
            funcs::call(name, &args)?
        }
    })
}

fn unary(op: &str, v: Value) -> Result<Value, ExprError> {
    Ok(match op {
        "not" => Value::Bool(!v.truthy()),
        "+" => v.number("unary +")?.into_value(),
        _ => match v.number("unary -")? {
            Num::Int(i) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
            Num::Float(f) => Value::Float(-f),
        },
    })
}

fn overflow() -> ExprError {
    ExprError::eval("integer overflow")
}

fn binary(op: &str, l: Value, r: Value) -> Result<Value, ExprError> {
    if let (Value::Str(a), Value::Str(b)) = (&l, &r) {
        if op == "+" {
            if a.len() + b.len() > MAX_STRING_LEN {
                return Err(ExprError::eval(format!(
                    "a string longer than {MAX_STRING_LEN} bytes"
                )));
            }
            return Ok(Value::Str(format!("{a}{b}")));
        }
    }
    let what = format!("`{op}`");
    let (a, b) = (l.number(&what)?, r.number(&what)?);
    Ok(match (a, b) {
        (Num::Int(a), Num::Int(b)) => match op {
            "+" => Value::Int(a.checked_add(b).ok_or_else(overflow)?),
            "-" => Value::Int(a.checked_sub(b).ok_or_else(overflow)?),
            "*" => Value::Int(a.checked_mul(b).ok_or_else(overflow)?),
            "/" => Value::Float(divide(a as f64, b as f64)?),
            "//" => {
                if b == 0 {
                    return Err(zero_division());
                }
                let q = a.checked_div(b).ok_or_else(overflow)?;
                Value::Int(if (a % b != 0) && ((a < 0) != (b < 0)) {
                    q - 1
                } else {
                    q
                })
            }
            "%" => {
                if b == 0 {
                    return Err(zero_division());
                }
                let m = a.checked_rem(b).ok_or_else(overflow)?;
                Value::Int(if m != 0 && ((m < 0) != (b < 0)) { m + b } else { m })
            }
            _ => {
                if b >= 0 {
                    let exp = u32::try_from(b).map_err(|_| overflow())?;
                    Value::Int(a.checked_pow(exp).ok_or_else(overflow)?)
                } else {
                    if a == 0 {
                        return Err(zero_division());
                    }
                    Value::Float((a as f64).powf(b as f64))
                }
            }
        },
        (a, b) => {
            let (a, b) = (a.as_f64(), b.as_f64());
            Value::Float(match op {
                "+" => a + b,
                "-" => a - b,
                "*" => a * b,
                "/" => divide(a, b)?,
                "//" => (divide(a, b)?).floor(),
                "%" => {
                    if b == 0.0 {
                        return Err(zero_division());
                    }
                    let m = a % b;
                    if m != 0.0 && ((m < 0.0) != (b < 0.0)) {
                        m + b
                    } else {
                        m
                    }
                }
                _ => {
                    if a == 0.0 && b < 0.0 {
                        return Err(zero_division());
                    }
                    let p = a.powf(b);
                    if p.is_nan() && !a.is_nan() && !b.is_nan() {
                        return Err(ExprError::eval("a negative number to a fractional power"));
                    }
                    p
                }
            })
        }
    })
}

fn zero_division() -> ExprError {
    ExprError::eval("division by zero")
}

fn divide(a: f64, b: f64) -> Result<f64, ExprError> {
    if b == 0.0 {
        return Err(zero_division());
    }
    Ok(a / b)
}

/// Orders two values as Python does: numbers with numbers, strings with strings.
pub(crate) fn order(l: &Value, r: &Value) -> Result<Option<Ordering>, ExprError> {
    match (l, r) {
        (Value::Str(a), Value::Str(b)) => Ok(Some(a.cmp(b))),
        (Value::Str(_), _) | (_, Value::Str(_)) => Err(ExprError::eval(format!(
            "cannot order {} and {}",
            l.type_name(),
            r.type_name()
        ))),
        _ => Ok(match (l.number("compare")?, r.number("compare")?) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }),
    }
}

fn compare(op: &str, l: &Value, r: &Value) -> Result<bool, ExprError> {
    let mixed_kinds = matches!(l, Value::Str(_)) != matches!(r, Value::Str(_));
    match op {
        "==" if mixed_kinds => Ok(false),
        "!=" if mixed_kinds => Ok(true),
        _ => {
            let o = order(l, r)?;
            Ok(match op {
                "==" => o == Some(Ordering::Equal),
                "!=" => o != Some(Ordering::Equal),
                "<" => o == Some(Ordering::Less),
                "<=" => matches!(o, Some(Ordering::Less | Ordering::Equal)),
                ">" => o == Some(Ordering::Greater),
                _ => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
            })
        }
    }
}
