//! The store's vocabulary: items, keys, conditions, updates and writes, the same for both
//! backends. Only the store's own modules (`schema` above all) build them.

use std::collections::BTreeMap;

/// Attribute names shared by both backends.
pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// Epoch seconds after which DynamoDB's TTL may delete the item.
pub const TTL: &str = "ttl";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    S(String),
    N(i64),
    Bool(bool),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item(pub BTreeMap<String, Value>);

impl Item {
    pub fn new(key: &Key) -> Self {
        let mut item = Item::default();
        item.0.insert(PK.into(), Value::S(key.pk.clone()));
        item.0.insert(SK.into(), Value::S(key.sk.clone()));
        item
    }
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }
    pub fn with_opt(self, name: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }
    pub fn key(&self) -> Key {
        Key::new(self.str(PK).unwrap_or_default(), self.str(SK).unwrap_or_default())
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
    pub fn string(&self, name: &str) -> Option<String> {
        self.str(name).map(str::to_string)
    }
    pub fn num(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }
    pub fn flag(&self, name: &str) -> bool {
        self.0.get(name).and_then(Value::as_bool).unwrap_or(false)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key { pk: pk.into(), sk: sk.into() }
    }
}

/// The conditions Tollgate needs, each with one DynamoDB expression and one in-memory meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item does not exist.
    NotExists,
    /// The item exists.
    Exists,
    /// The attribute is absent (on an existing or a missing item).
    Absent(String),
    Equals(String, Value),
    /// The number attribute is present and at least the value.
    AtLeast(String, i64),
    /// The number attribute is absent or below the value.
    AbsentOrBelow(String, i64),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    pub fn equals(name: &str, value: impl Into<Value>) -> Self {
        Condition::Equals(name.to_string(), value.into())
    }
    pub fn absent(name: &str) -> Self {
        Condition::Absent(name.to_string())
    }

    /// Evaluated against the current item (None when it does not exist), as DynamoDB does.
    pub fn holds(&self, item: Option<&Item>) -> bool {
        match self {
            Condition::NotExists => item.is_none(),
            Condition::Exists => item.is_some(),
            Condition::Absent(name) => item.and_then(|i| i.get(name)).is_none(),
            Condition::Equals(name, value) => item.and_then(|i| i.get(name)) == Some(value),
            Condition::AtLeast(name, n) => item.and_then(|i| i.num(name)).is_some_and(|v| v >= *n),
            Condition::AbsentOrBelow(name, n) => match item.and_then(|i| i.get(name)) {
                None => true,
                Some(Value::N(v)) => v < n,
                Some(_) => false,
            },
            Condition::And(all) => all.iter().all(|c| c.holds(item)),
            Condition::Or(any) => any.iter().any(|c| c.holds(item)),
            Condition::Not(c) => !c.holds(item),
        }
    }
}

/// UpdateItem: creates the item when missing, as DynamoDB does, unless a condition says no.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub key: Key,
    pub set: Vec<(String, Value)>,
    /// SET name = if_not_exists(name, value)
    pub set_if_absent: Vec<(String, Value)>,
    /// ADD name value (numbers; an absent attribute counts as 0)
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
    pub condition: Option<Condition>,
}

impl Update {
    pub fn new(key: Key) -> Self {
        Update { key, set: vec![], set_if_absent: vec![], add: vec![], remove: vec![], condition: None }
    }
    pub fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set.push((name.to_string(), value.into()));
        self
    }
    pub fn set_opt(self, name: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.set(name, v),
            None => self,
        }
    }
    pub fn set_if_absent(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set_if_absent.push((name.to_string(), value.into()));
        self
    }
    pub fn add(mut self, name: &str, by: i64) -> Self {
        self.add.push((name.to_string(), by));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_string());
        self
    }
    pub fn when(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }

    /// Folds another counter update of the same item into this one (sums `ADD`s of one name).
    pub fn merge(&mut self, other: &Update) {
        for (name, by) in &other.add {
            match self.add.iter_mut().find(|(n, _)| n == name) {
                Some((_, sum)) => *sum += by,
                None => self.add.push((name.clone(), *by)),
            }
        }
        for (name, value) in &other.set_if_absent {
            if !self.set_if_absent.iter().any(|(n, _)| n == name) {
                self.set_if_absent.push((name.clone(), value.clone()));
            }
        }
    }

    /// The item after this update, from the item before it.
    pub fn apply(&self, before: Option<&Item>) -> Item {
        let mut item = before.cloned().unwrap_or_else(|| Item::new(&self.key));
        for (name, value) in &self.set {
            item.0.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.set_if_absent {
            item.0.entry(name.clone()).or_insert_with(|| value.clone());
        }
        for (name, by) in &self.add {
            let now = item.num(name).unwrap_or(0);
            item.0.insert(name.clone(), Value::N(now + by));
        }
        for name in &self.remove {
            item.0.remove(name);
        }
        item
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// `key` is the item's own (PK, SK), taken once when the write is made.
    Put {
        key: Key,
        item: Item,
        condition: Option<Condition>,
    },
    Update(Update),
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// ConditionCheck: writes nothing, but the transaction fails unless it holds.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl Write {
    pub fn put(item: Item) -> Self {
        Write::put_if(item, None)
    }
    pub fn put_new(item: Item) -> Self {
        Write::put_if(item, Some(Condition::NotExists))
    }
    /// A put of `item` that only happens when `condition` holds (None: always).
    pub fn put_if(item: Item, condition: Option<Condition>) -> Self {
        Write::Put { key: item.key(), item, condition }
    }
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => key,
            Write::Update(u) => &u.key,
        }
    }
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Write::Put { condition, .. } | Write::Delete { condition, .. } => condition.as_ref(),
            Write::Update(u) => u.condition.as_ref(),
            Write::Check { condition, .. } => Some(condition),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub pk: String,
    pub sk_prefix: String,
    pub newest_first: bool,
    pub limit: usize,
    /// Continue after this sort key (from `Page::last_sk`).
    pub after: Option<String>,
}

impl Query {
    pub fn prefix(pk: impl Into<String>, sk_prefix: impl Into<String>) -> Self {
        Query { pk: pk.into(), sk_prefix: sk_prefix.into(), newest_first: false, limit: 100, after: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Set when more items may follow.
    pub last_sk: Option<String>,
}
