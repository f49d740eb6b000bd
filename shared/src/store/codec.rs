//! Records to items and back, through serde (`serde_dynamo`'s attribute model): a record's
//! fields are its attributes, `None` is an absent attribute, and an item that does not parse as
//! its record is an error naming its key, never skipped.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::AttributeValue;

use super::{Item, Key, StoreError, Value};

/// The item of `record` at `key` (the record's own attributes; the caller adds index and TTL
/// attributes). Records are flat structs of strings, whole numbers and booleans, which always
/// serialize; the round-trip tests of every record hold them to it.
pub fn encode<T: Serialize>(key: &Key, record: &T) -> Item {
    // serde_dynamo's own item, taken apart as it is: converting it to a `HashMap` first would
    // build (and hash) the map again (a webhook delivery encodes five records).
    let map: serde_dynamo::Item = match serde_dynamo::to_item(record) {
        Ok(map) => map,
        Err(e) => unreachable!("a record is a flat struct and always serializes: {e}"),
    };
    let mut item = Item::new(key);
    for (name, value) in map.into_inner() {
        let value = match value {
            AttributeValue::S(s) => Value::S(s),
            AttributeValue::Bool(b) => Value::Bool(b),
            AttributeValue::N(n) => match n.parse() {
                Ok(n) => Value::N(n),
                Err(_) => unreachable!("records hold whole numbers only, not {n}"),
            },
            AttributeValue::Null(_) => continue,
            other => unreachable!("records are flat, not {other:?}"),
        };
        item.0.insert(name, value);
    }
    item
}

/// The record an item holds; an error naming the item's key when it does not parse.
pub fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let map: HashMap<String, AttributeValue> = item
        .0
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::S(s) => AttributeValue::S(s.clone()),
                Value::N(n) => AttributeValue::N(n.to_string()),
                Value::Bool(b) => AttributeValue::Bool(*b),
            };
            (name.clone(), value)
        })
        .collect();
    // As one map value: `from_item` would collect the map twice more on its way to the same.
    serde_dynamo::from_attribute_value(AttributeValue::M(map))
        .map_err(|e| StoreError::Corrupt { key: item.key(), reason: e.to_string() })
}

/// `decode` of an item that may be missing.
pub fn decode_opt<T: DeserializeOwned>(item: Option<&Item>) -> Result<Option<T>, StoreError> {
    item.map(decode).transpose()
}

/// `decode` of every item.
pub fn decode_all<T: DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, StoreError> {
    items.iter().map(decode).collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Sample {
        name: String,
        count: i64,
        on: bool,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
    }

    #[test]
    fn records_round_trip_and_none_is_absent() {
        let key = Key::new("A#1", "B");
        let sample = Sample { name: "x".into(), count: -3, on: true, note: None };
        let item = encode(&key, &sample);
        assert_eq!(item.get("note"), None);
        assert_eq!(item.num("count"), Some(-3));
        assert_eq!(decode::<Sample>(&item).unwrap(), sample);
    }

    #[test]
    fn an_item_that_does_not_parse_is_an_error_naming_its_key() {
        let item = Item::new(&Key::new("A#1", "B")).with("name", "x").with("count", "three");
        let err = decode::<Sample>(&item).unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt { key, .. } if key.pk == "A#1"), "{err:?}");
    }
}
