use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Colour {
    Red,
    DeepBlue,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Next {
    #[serde(rename = "next_name")]
    name: String,
    next_at: i64,
    next_colour: Option<Colour>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Sample {
    #[serde(rename = "sample_id")]
    id: String,
    count: i64,
    small: u32,
    on: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    note: Option<String>,
    /// No `skip_serializing_if`: `None` must still be an absent attribute.
    other: Option<i64>,
    colour: Colour,
    #[serde(default)]
    flag: bool,
    #[serde(flatten)]
    next: Option<Next>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Float {
    x: f64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct List {
    xs: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Small {
    small: u32,
}

fn sample() -> Sample {
    Sample {
        id: "s1".into(),
        count: -3,
        small: 7,
        on: true,
        note: None,
        other: None,
        colour: Colour::DeepBlue,
        flag: false,
        next: None,
    }
}

#[test]
fn records_round_trip_and_none_is_absent() {
    let key = Key::new("A#1", "B");
    let item = encode(&key, &sample());
    assert_eq!(item.get("note"), None);
    assert_eq!(item.get("other"), None);
    assert_eq!(item.get("next_name"), None);
    assert_eq!(item.num("count"), Some(-3));
    assert_eq!(item.str("sample_id"), Some("s1"));
    assert_eq!(item.str("colour"), Some("deepblue"));
    assert_eq!(item.key(), key);
    assert_eq!(decode::<Sample>(&item).unwrap(), sample());
}

#[test]
fn a_flattened_part_is_attributes_of_the_item() {
    let with_next =
        Sample { next: Some(Next { name: "pro".into(), next_at: 9, next_colour: Some(Colour::Red) }), ..sample() };
    let item = encode(&Key::new("A#1", "B"), &with_next);
    assert_eq!(item.str("next_name"), Some("pro"));
    assert_eq!(item.num("next_at"), Some(9));
    assert_eq!(item.str("next_colour"), Some("red"));
    assert_eq!(decode::<Sample>(&item).unwrap(), with_next);
}

#[test]
fn attributes_a_record_does_not_name_are_ignored() {
    let item = encode(&Key::new("A#1", "B"), &sample()).with("GSI1PK", "X").with("ttl", 5);
    assert_eq!(decode::<Sample>(&item).unwrap(), sample());
}

#[test]
fn an_item_that_does_not_parse_is_an_error_naming_its_key() {
    let key = Key::new("A#1", "B");
    let wrong = [
        encode(&key, &sample()).with("count", "three"),
        encode(&key, &sample()).with("colour", "green"),
        encode(&key, &sample()).with("colour", 1),
        encode(&key, &sample()).with("on", "yes"),
        encode(&key, &sample()).with("small", -1),
        encode(&key, &sample()).with("note", 4),
    ];
    for item in wrong {
        let err = decode::<Sample>(&item).unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt { key, .. } if key.pk == "A#1"), "{err:?}");
    }
    let mut missing = encode(&key, &sample());
    missing.0.remove("count");
    let err = decode::<Sample>(&missing).unwrap_err();
    assert!(err.to_string().contains("count"), "{err}");
}

/// The encoder's refusal, without its `unreachable!`.
fn fields<T: Serialize>(record: &T) -> Result<Item, Unsupported> {
    let mut item = Item::new(&Key::new("A#1", "B"));
    record.serialize(Fields { item: &mut item, pending: None })?;
    Ok(item)
}

#[test]
fn what_an_item_cannot_hold_is_refused() {
    assert!(fields(&Float { x: 1.5 }).unwrap_err().to_string().contains("float"));
    assert!(fields(&List { xs: vec![] }).unwrap_err().to_string().contains("list"));
    assert!(fields(&7i64).unwrap_err().to_string().contains("bare number"));
    assert_eq!(fields(&Small { small: 1 }).unwrap().num("small"), Some(1));
}

/// Items as the store wrote them before this codec (serde_dynamo's attribute model): every item
/// already stored must read the same, and a record must be written the same.
fn stored_before<T: Serialize>(key: &Key, record: &T) -> Item {
    let mut item = Item::new(key);
    for (name, value) in serde_dynamo::to_item::<_, serde_dynamo::Item>(record).unwrap().into_inner() {
        let value = match value {
            serde_dynamo::AttributeValue::S(s) => Value::S(s),
            serde_dynamo::AttributeValue::Bool(b) => Value::Bool(b),
            serde_dynamo::AttributeValue::N(n) => Value::N(n.parse().unwrap()),
            serde_dynamo::AttributeValue::Null(_) => continue,
            other => panic!("not flat: {other:?}"),
        };
        item.0.insert(name, value);
    }
    item
}

fn colours() -> impl Strategy<Value = Colour> {
    prop_oneof![Just(Colour::Red), Just(Colour::DeepBlue)]
}

prop_compose! {
    fn samples()(
        id in "\\PC{0,12}", count in any::<i64>(), small in any::<u32>(), on in any::<bool>(),
        note in proptest::option::of("\\PC{0,8}"), other in proptest::option::of(any::<i64>()),
        colour in colours(), flag in any::<bool>(),
        next in proptest::option::of(("\\PC{0,8}", any::<i64>(), proptest::option::of(colours()))),
    ) -> Sample {
        let next = next.map(|(name, next_at, next_colour)| Next { name, next_at, next_colour });
        Sample { id, count, small, on, note, other, colour, flag, next }
    }
}

proptest! {
    #[test]
    fn every_record_round_trips_and_matches_what_was_stored_before(record in samples()) {
        let key = Key::new("USER#u", "SAMPLE#1");
        let item = encode(&key, &record);
        prop_assert_eq!(&item, &stored_before(&key, &record));
        prop_assert_eq!(decode::<Sample>(&item).unwrap(), record);
    }
}
