//! Records to items and back, through serde: a record's fields are its attributes, `None` is an
//! absent attribute, a unit enum variant is its name, and an item that does not parse as its
//! record is an error naming its key, never skipped.
//!
//! Items are written and read directly: a record's fields go straight into the item's map, and a
//! record is read from the item's values in place (a string field copies its string once). A
//! webhook delivery encodes five records and decodes several; an intermediate attribute map for
//! each (collected, hashed, its numbers printed and parsed again) was 6-8% of its instructions.

use serde::de::value::{BorrowedStrDeserializer, MapDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Impossible, Serialize};

use super::{Item, Key, StoreError, Value};

/// The item of `record` at `key` (the record's own attributes; the caller adds index and TTL
/// attributes). Records are flat structs of strings, whole numbers and booleans, which always
/// serialize; the round-trip tests of every record hold them to it.
pub fn encode<T: Serialize>(key: &Key, record: &T) -> Item {
    let mut item = Item::new(key);
    if let Err(e) = record.serialize(Fields { item: &mut item, pending: None }) {
        unreachable!("a record is a flat struct and always serializes: {e}");
    }
    item
}

/// The record an item holds; an error naming the item's key when it does not parse.
pub fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let fields = item.0.iter().map(|(name, value)| (name.as_str(), Attribute(value)));
    T::deserialize(MapDeserializer::new(fields))
        .map_err(|e: de::value::Error| StoreError::Corrupt { key: item.key(), reason: e.to_string() })
}

/// `decode` of an item that may be missing.
pub fn decode_opt<T: DeserializeOwned>(item: Option<&Item>) -> Result<Option<T>, StoreError> {
    item.map(decode).transpose()
}

/// `decode` of every item.
pub fn decode_all<T: DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, StoreError> {
    items.iter().map(decode).collect()
}

/// What a record holds that an item cannot (a float, a list, a nested struct).
#[derive(Debug)]
struct Unsupported(String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(format!("records are flat structs of strings, whole numbers and booleans, not {what}")))
}

/// Methods of a serializer for what it does not take.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ok:ty: $what:literal;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, Unsupported> { unsupported($what) })*
    };
}

/// Methods of a serializer for what wraps a value: `Some` and a newtype are the value itself; an
/// enum variant with data has no place in an item.
macro_rules! wrappers {
    ($ok:ty) => {
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<$ok, Unsupported> {
            value.serialize(self)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<$ok, Unsupported> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<$ok, Unsupported> {
            unsupported("an enum with data")
        }
    };
}

/// Methods of the value serializer for whole numbers that always fit an `i64`.
macro_rules! widen {
    ($($method:ident($ty:ty);)*) => {
        $(fn $method(self, n: $ty) -> Result<Maybe, Unsupported> { self.serialize_i64(n.into()) })*
    };
}

/// A record: a struct, or a map when it has a flattened part; each field into the item.
struct Fields<'a> {
    item: &'a mut Item,
    /// A map entry's name, between its key and its value.
    pending: Option<String>,
}

impl<'a> ser::Serializer for Fields<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Unsupported> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Unsupported> {
        Ok(self)
    }
    wrappers!(());
    refuse! {
        serialize_bool(bool) -> (): "a bare boolean";
        serialize_i8(i8) -> (): "a bare number";
        serialize_i16(i16) -> (): "a bare number";
        serialize_i32(i32) -> (): "a bare number";
        serialize_i64(i64) -> (): "a bare number";
        serialize_u8(u8) -> (): "a bare number";
        serialize_u16(u16) -> (): "a bare number";
        serialize_u32(u32) -> (): "a bare number";
        serialize_u64(u64) -> (): "a bare number";
        serialize_f32(f32) -> (): "a float";
        serialize_f64(f64) -> (): "a float";
        serialize_char(char) -> (): "a bare string";
        serialize_str(&str) -> (): "a bare string";
        serialize_bytes(&[u8]) -> (): "bytes";
        serialize_none() -> (): "a bare option";
        serialize_unit() -> (): "a unit";
        serialize_unit_struct(&'static str) -> (): "a unit";
        serialize_unit_variant(&'static str, u32, &'static str) -> (): "a bare enum";
        serialize_seq(Option<usize>) -> Self::SerializeSeq: "a list";
        serialize_tuple(usize) -> Self::SerializeTuple: "a tuple";
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct: "a tuple";
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant: "an enum with data";
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant: "an enum with data";
    }
}

impl Fields<'_> {
    fn put<T: Serialize + ?Sized>(&mut self, name: String, value: &T) -> Result<(), Unsupported> {
        if let Some(value) = value.serialize(Attr)? {
            self.item.0.insert(name, value);
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Unsupported> {
        self.put(name.to_string(), value)
    }
    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

impl ser::SerializeMap for Fields<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, name: &T) -> Result<(), Unsupported> {
        match name.serialize(Attr)? {
            Some(Value::S(name)) => self.pending = Some(name),
            _ => return unsupported("a map keyed by other than strings"),
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        match self.pending.take() {
            Some(name) => self.put(name, value),
            None => unsupported("a map value without its key"),
        }
    }
    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

/// One field's value: None when it is absent (`None`, a unit).
struct Attr;

type Maybe = Option<Value>;

impl ser::Serializer for Attr {
    type Ok = Maybe;
    type Error = Unsupported;
    type SerializeSeq = Impossible<Maybe, Unsupported>;
    type SerializeTuple = Impossible<Maybe, Unsupported>;
    type SerializeTupleStruct = Impossible<Maybe, Unsupported>;
    type SerializeTupleVariant = Impossible<Maybe, Unsupported>;
    type SerializeMap = Impossible<Maybe, Unsupported>;
    type SerializeStruct = Impossible<Maybe, Unsupported>;
    type SerializeStructVariant = Impossible<Maybe, Unsupported>;

    fn serialize_bool(self, b: bool) -> Result<Maybe, Unsupported> {
        Ok(Some(Value::Bool(b)))
    }
    fn serialize_i64(self, n: i64) -> Result<Maybe, Unsupported> {
        Ok(Some(Value::N(n)))
    }
    widen! { serialize_i8(i8); serialize_i16(i16); serialize_i32(i32); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32); }
    fn serialize_u64(self, n: u64) -> Result<Maybe, Unsupported> {
        match i64::try_from(n) {
            Ok(n) => self.serialize_i64(n),
            Err(_) => unsupported("a number above i64"),
        }
    }
    fn serialize_char(self, c: char) -> Result<Maybe, Unsupported> {
        Ok(Some(Value::S(c.to_string())))
    }
    fn serialize_str(self, s: &str) -> Result<Maybe, Unsupported> {
        Ok(Some(Value::S(s.to_string())))
    }
    fn serialize_none(self) -> Result<Maybe, Unsupported> {
        Ok(None)
    }
    fn serialize_unit(self) -> Result<Maybe, Unsupported> {
        Ok(None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Maybe, Unsupported> {
        Ok(None)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Maybe, Unsupported> {
        self.serialize_str(variant)
    }
    wrappers!(Maybe);
    refuse! {
        serialize_f32(f32) -> Maybe: "a float";
        serialize_f64(f64) -> Maybe: "a float";
        serialize_bytes(&[u8]) -> Maybe: "bytes";
        serialize_seq(Option<usize>) -> Self::SerializeSeq: "a list";
        serialize_tuple(usize) -> Self::SerializeTuple: "a tuple";
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct: "a tuple";
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant: "an enum with data";
        serialize_map(Option<usize>) -> Self::SerializeMap: "a nested map";
        serialize_struct(&'static str, usize) -> Self::SerializeStruct: "a nested struct";
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant: "an enum with data";
    }
}

/// One attribute, read in place: a field of any type asks for what the value is.
struct Attribute<'a>(&'a Value);

impl<'a> IntoDeserializer<'a, de::value::Error> for Attribute<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Attribute<'de> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::S(s) => visitor.visit_borrowed_str(s),
            Value::N(n) => visitor.visit_i64(*n),
            Value::Bool(b) => visitor.visit_bool(*b),
        }
    }
    /// A present attribute is `Some`; an absent one never reaches here (serde makes it `None`).
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }
    /// A unit variant, by its name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::S(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            _ => self.deserialize_any(visitor),
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests;
