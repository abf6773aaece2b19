//! A tiny JSON value and writer, for the one result object batch mode prints.

use std::fmt::{self, Write as _};

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(u64),
    /// Written with up to 3 decimals; not finite becomes null.
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    /// Keys keep their order.
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    pub fn opt_int(v: Option<u64>) -> Json {
        v.map_or(Json::Null, Json::Int)
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Int(n) => write!(f, "{n}"),
            Json::Float(x) if x.is_finite() => {
                let text = format!("{x:.3}");
                // Trailing zeros carry nothing: 1.500 -> 1.5, 2.000 -> 2.
                let text = text.trim_end_matches('0').trim_end_matches('.');
                f.write_str(if text == "-0" { "0" } else { text })
            }
            Json::Float(_) => f.write_str("null"),
            Json::Str(s) => write_string(f, s),
            Json::Array(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Json::Object(fields) => {
                f.write_char('{')?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_string(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_char('}')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_values() {
        let value = Json::object([
            ("mode", Json::str("pods")),
            ("ok", Json::Bool(true)),
            ("tx", Json::Int(18_446_744_073_709_551_615)),
            ("mpps", Json::Float(13.7)),
            ("whole", Json::Float(2.0)),
            ("nan", Json::Float(f64::NAN)),
            ("none", Json::opt_int(None)),
            (
                "ports",
                Json::Array(vec![Json::Int(1), Json::object([("a", Json::Null)])]),
            ),
            ("empty", Json::Array(vec![])),
        ]);
        assert_eq!(
            value.to_string(),
            r#"{"mode":"pods","ok":true,"tx":18446744073709551615,"mpps":13.7,"whole":2,"nan":null,"none":null,"ports":[1,{"a":null}],"empty":[]}"#
        );
    }

    #[test]
    fn escapes_strings() {
        assert_eq!(
            Json::str("a\"b\\c\nd\u{1}é").to_string(),
            r#""a\"b\\c\nd\u0001é""#
        );
    }

    #[test]
    fn floats_round_to_three_decimals() {
        assert_eq!(Json::Float(0.0004).to_string(), "0");
        assert_eq!(Json::Float(-0.0001).to_string(), "0");
        assert_eq!(Json::Float(1234.56789).to_string(), "1234.568");
        assert_eq!(Json::Float(100.0).to_string(), "100");
        assert_eq!(Json::Float(f64::INFINITY).to_string(), "null");
    }
}
