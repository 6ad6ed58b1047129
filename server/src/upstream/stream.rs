//! Decoding a listing as it arrives: a JSON array (or the array under one field of an object)
//! read element by element from the answer's chunks, each element handed over at once. A web-apps
//! listing of 100,000 backups is some 85 MB of JSON; neither it nor a list of its decoded
//! elements is ever held whole.

use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use axum::body::Bytes;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The answer's chunks as a reader, on a blocking thread: it waits for the next chunk.
pub struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    pub fn new(chunks: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        ChunkReader {
            chunks,
            current: Bytes::new(),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                // The sender is gone: the answer ended (or was cut off, which the sender reports).
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Hands every element of a sequence to `each`.
struct Elements<'a, T, A, F> {
    acc: &'a mut A,
    each: &'a mut F,
    item: PhantomData<T>,
}

impl<'de, T, A, F> Visitor<'de> for Elements<'_, T, A, F>
where
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(item) = seq.next_element::<T>()? {
            (self.each)(self.acc, item);
        }
        Ok(())
    }
}

impl<'de, T, A, F> DeserializeSeed<'de> for Elements<'_, T, A, F>
where
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// Finds `field` in an object and reads its array; every other field is skipped unread.
struct Field<'a, T, A, F> {
    field: &'static str,
    elements: Elements<'a, T, A, F>,
}

impl<'de, T, A, F> Visitor<'de> for Field<'_, T, A, F>
where
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with `{}`", self.field)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<bool, M::Error> {
        let Field { field, elements } = self;
        let mut elements = Some(elements);
        while let Some(key) = map.next_key::<String>()? {
            match elements.take_if(|_| key == field) {
                Some(e) => map.next_value_seed(e)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(elements.is_none())
    }
}

/// Reads a JSON array from `reader` (or the array at `field` of an object), calling `each` with
/// `acc` for every element, and checks that nothing follows it.
pub fn decode_each<R, T, A, F>(
    reader: R,
    field: Option<&'static str>,
    acc: &mut A,
    mut each: F,
) -> Result<(), serde_json::Error>
where
    R: Read,
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    use serde::Deserializer as _;
    use serde::de::Error as _;
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(64 * 1024, reader));
    let elements = Elements {
        acc,
        each: &mut each,
        item: PhantomData,
    };
    match field {
        None => (&mut de).deserialize_seq(elements)?,
        Some(field) => {
            if !(&mut de).deserialize_map(Field { field, elements })? {
                return Err(serde_json::Error::missing_field(field));
            }
        }
    }
    de.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(text: &str, size: usize) -> ChunkReader {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        for piece in text.as_bytes().chunks(size) {
            tx.try_send(Bytes::copy_from_slice(piece)).unwrap();
        }
        ChunkReader::new(rx)
    }

    #[derive(serde::Deserialize)]
    struct Item {
        id: u64,
    }

    #[test]
    fn an_array_split_anywhere_decodes_element_by_element() {
        let text = r#"[{"id": 3, "x": "a"}, {"id": 7}, {"id": 11}]"#;
        for size in [1, 2, 5, 100] {
            let mut ids = Vec::new();
            decode_each(chunked(text, size), None, &mut ids, |ids, i: Item| {
                ids.push(i.id)
            })
            .unwrap();
            assert_eq!(ids, vec![3, 7, 11], "chunks of {size}");
        }
    }

    #[test]
    fn the_array_of_one_field_is_read_and_the_rest_skipped() {
        let text = r#"{"total": 2, "snapshots": [{"id": 1}, {"id": 2}], "next": {"a": [1]}}"#;
        let mut ids = Vec::new();
        decode_each(
            chunked(text, 3),
            Some("snapshots"),
            &mut ids,
            |ids, i: Item| ids.push(i.id),
        )
        .unwrap();
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn a_cut_off_answer_a_wrong_shape_and_trailing_text_are_errors() {
        let mut ids: Vec<u64> = Vec::new();
        let mut push = |ids: &mut Vec<u64>, i: Item| ids.push(i.id);
        assert!(
            decode_each(
                chunked(r#"[{"id": 1}, {"id""#, 4),
                None,
                &mut ids,
                &mut push
            )
            .is_err()
        );
        assert!(decode_each(chunked(r#"{"id": 1}"#, 4), None, &mut ids, &mut push).is_err());
        assert!(decode_each(chunked(r#"[{"id": 1}] x"#, 4), None, &mut ids, &mut push).is_err());
        assert!(
            decode_each(
                chunked(r#"{"other": []}"#, 4),
                Some("snapshots"),
                &mut ids,
                &mut push
            )
            .is_err()
        );
    }
}
