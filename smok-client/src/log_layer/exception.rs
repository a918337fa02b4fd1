//! The exception fields of a record (HTTP-API.md §8) made from a Rust error: `exception_text`
//! is the error and its `source()` chain as text, `exception_traceback` a JSON document of the
//! published clients' shape with one entry per cause, innermost first.

use serde_json::{json, Value};

/// One error of a chain: its `Display` and `Debug` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    pub display: String,
    pub debug: String,
}

/// The causes of `error`, outermost first (the error itself, then each `source()`), at most
/// [`MAX_CAUSES`] of them (a cycle cannot run forever).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        if causes.len() == MAX_CAUSES {
            break;
        }
        causes.push(Cause {
            display: e.to_string(),
            debug: format!("{e:?}"),
        });
        next = e.source();
    }
    causes
}

/// The most causes kept of one chain.
const MAX_CAUSES: usize = 64;

/// The chain as text, as `anyhow` prints it: the error, then `Caused by:` and each cause.
pub(crate) fn text(causes: &[Cause]) -> String {
    let mut out = causes.first().map(|c| c.display.clone()).unwrap_or_default();
    if causes.len() > 1 {
        out.push_str("\n\nCaused by:");
        for (i, cause) in causes[1..].iter().enumerate() {
            out.push_str(&format!("\n    {i}: {}", cause.display));
        }
    }
    out
}

/// Where the event was logged: its source file and line, if known.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Site<'a> {
    pub file: Option<&'a str>,
    pub line: Option<u32>,
}

/// The `exception_traceback` document: `{"frames": [...], "formatted_traceback": text}`, one
/// frame per cause from the innermost (the root cause) outward, each named by its cause's
/// `Display`, at the event's site, with the cause's `Debug` form as its one local (`error`).
pub(crate) fn traceback_document(causes: &[Cause], site: Site<'_>, formatted: &str) -> Value {
    let frames: Vec<Value> = causes
        .iter()
        .rev()
        .map(|cause| {
            json!({
                "name": cause.display,
                "filename": site.file.unwrap_or(""),
                "line_no": site.line.unwrap_or(0),
                "locals": {"error": {"repr": cause.debug, "type": "error", "pickle_type": "none"}},
                "globals": {},
            })
        })
        .collect();
    json!({ "frames": frames, "formatted_traceback": formatted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_chain_as_text_and_as_a_document() {
        let e = E(
            "outer",
            Some(Box::new(E("middle", Some(Box::new(E("root", None)))))),
        );
        let causes = chain(&e);
        assert_eq!(causes.len(), 3);
        assert_eq!(text(&causes), "outer\n\nCaused by:\n    0: middle\n    1: root");
        assert_eq!(text(&causes[2..]), "root");
        let doc = traceback_document(
            &causes,
            Site {
                file: Some("a.rs"),
                line: Some(7),
            },
            "t",
        );
        let names: Vec<&str> = doc["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["root", "middle", "outer"]);
        assert_eq!(doc["frames"][0]["line_no"], 7);
        assert_eq!(doc["frames"][0]["locals"]["error"]["repr"], "E(\"root\", None)");
        assert_eq!(doc["formatted_traceback"], "t");
    }
}
