//! Enums that travel as snake_case strings (error codes, audit actions, run states) and stay
//! readable when the other side knows a value this build does not: it decodes as the enum's
//! unknown variant, keeping the text, instead of failing. Later versions add values; old stored
//! rows and old clients must still read.

/// A string that names no variant this build knows (the strict [`std::str::FromStr`] of an
/// [`open_string_enum!`] type; decoding with serde never fails this way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a known {kind}")]
pub struct UnknownName {
    /// What was being parsed: "audit action", "error code", ...
    pub kind: &'static str,
    pub text: String,
}

/// Declares an open string enum: its known variants with their wire text, and a variant that
/// keeps any other text. It gets `as_str`, `KNOWN`, `From<String>`/`From<&str>` (open), a strict
/// `FromStr` (unknown text is an [`UnknownName`] error, for input that must be one of ours),
/// `Display`, and serde as a plain string (decoding is open).
///
/// Build values from text through `From`, never by writing the unknown variant by hand: then a
/// known text always becomes its own variant and equality means what it says.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
            _ => $unknown:ident,
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this build does not know (sent or stored by a later version), kept as
            /// written.
            $unknown(String),
        }

        impl $name {
            /// Every variant this build knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire and storage text.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::$unknown(text) => text,
                }
            }

            /// The known variant spelled `text`.
            pub fn known(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, $name::$unknown(_))
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> $name {
                $name::known(&text).unwrap_or($name::$unknown(text))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                $name::known(text).unwrap_or_else(|| $name::$unknown(text.to_string()))
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::string_enum::UnknownName;

            fn from_str(text: &str) -> Result<$name, Self::Err> {
                $name::known(text).ok_or_else(|| $crate::string_enum::UnknownName {
                    kind: $kind,
                    text: text.to_string(),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                <String as serde::Deserialize>::deserialize(deserializer).map($name::from)
            }
        }
    };
}

pub(crate) use open_string_enum;

/// Checks what every open string enum must do: each known variant survives its text and JSON,
/// the texts are distinct, and an unknown text is kept by decoding but refused by the strict parse.
#[cfg(test)]
macro_rules! assert_open_string_enum {
    ($name:ident :: $unknown:ident) => {{
        let mut texts = std::collections::BTreeSet::new();
        for known in $name::KNOWN {
            let text = known.as_str();
            assert!(texts.insert(text), "{text} is used twice");
            assert!(known.is_known());
            assert_eq!(&$name::from(text), known);
            assert_eq!(&$name::from(text.to_string()), known);
            assert_eq!(text.parse::<$name>().as_ref(), Ok(known));
            assert_eq!(known.to_string(), text);
            let json = serde_json::to_string(known).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(&serde_json::from_str::<$name>(&json).unwrap(), known);
        }
        let later = "added_by_a_later_version";
        let decoded: $name = serde_json::from_str(&format!("\"{later}\"")).unwrap();
        assert_eq!(decoded, $name::$unknown(later.to_string()));
        assert!(!decoded.is_known());
        assert_eq!(decoded.as_str(), later);
        assert_eq!(
            serde_json::to_string(&decoded).unwrap(),
            format!("\"{later}\"")
        );
        let refused = later.parse::<$name>().unwrap_err();
        assert_eq!(refused.text, later);
        assert!(refused.to_string().contains(later), "{refused}");
    }};
}

#[cfg(test)]
pub(crate) use assert_open_string_enum;
