//! Conversion between the store's items and conditions and DynamoDB's attribute maps and
//! expressions. Only this module and its parent know DynamoDB's types.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::{Condition, Item, Key, PK, SK, StoreError, Update, Value};

pub type Attributes = HashMap<String, AttributeValue>;

pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
    }
}

pub fn to_attributes(item: &Item) -> Attributes {
    item.0.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()
}

pub fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

pub fn from_attributes(attrs: &Attributes) -> Result<Item, StoreError> {
    let mut item = Item::default();
    for (name, attr) in attrs {
        let value = match attr {
            AttributeValue::S(s) => Value::S(s.clone()),
            AttributeValue::N(n) => {
                Value::N(n.parse().map_err(|_| StoreError::Invalid(format!("{name} is not a whole number")))?)
            }
            AttributeValue::Bool(b) => Value::Bool(*b),
            _ => {
                return Err(StoreError::Invalid(format!("{name} has a type Tollgate does not write")));
            }
        };
        item.0.insert(name.clone(), value);
    }
    Ok(item)
}

/// Placeholders for one request's expressions (`#n0`, `:v0`, ...), so no attribute name ever
/// collides with DynamoDB's reserved words.
#[derive(Default)]
pub struct Expr {
    pub names: HashMap<String, String>,
    pub values: Attributes,
}

impl Expr {
    fn name(&mut self, name: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        if let Some((p, _)) = self.names.iter().find(|(_, n)| *n == name) {
            return p.clone();
        }
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// The condition as DynamoDB expression text. Compound parts are parenthesized only where
    /// they nest: DynamoDB refuses redundant parentheses.
    pub fn condition(&mut self, condition: &Condition) -> String {
        self.render(condition, false)
    }

    fn render(&mut self, condition: &Condition, nested: bool) -> String {
        let wrap = |text: String| if nested { format!("({text})") } else { text };
        match condition {
            Condition::NotExists => format!("attribute_not_exists({})", self.name(PK)),
            Condition::Exists => format!("attribute_exists({})", self.name(PK)),
            Condition::Absent(n) => format!("attribute_not_exists({})", self.name(n)),
            Condition::Equals(n, v) => format!("{} = {}", self.name(n), self.value(to_attribute(v))),
            Condition::AtLeast(n, v) => format!("{} >= {}", self.name(n), self.value(AttributeValue::N(v.to_string()))),
            Condition::AbsentOrBelow(n, v) => {
                let name = self.name(n);
                wrap(format!(
                    "attribute_not_exists({name}) OR {name} < {}",
                    self.value(AttributeValue::N(v.to_string()))
                ))
            }
            Condition::And(all) if all.len() == 1 => self.render(&all[0], nested),
            Condition::Or(any) if any.len() == 1 => self.render(&any[0], nested),
            Condition::And(all) if all.is_empty() => {
                self.render(&Condition::Or(vec![Condition::Exists, Condition::NotExists]), nested)
            }
            Condition::Or(any) if any.is_empty() => {
                self.render(&Condition::And(vec![Condition::Exists, Condition::NotExists]), nested)
            }
            Condition::And(all) => {
                let parts: Vec<String> = all.iter().map(|c| self.render(c, true)).collect();
                wrap(parts.join(" AND "))
            }
            Condition::Or(any) => {
                let parts: Vec<String> = any.iter().map(|c| self.render(c, true)).collect();
                wrap(parts.join(" OR "))
            }
            Condition::Not(c) => format!("NOT {}", self.render(c, true)),
        }
    }

    pub fn update(&mut self, update: &Update) -> String {
        let mut sets: Vec<String> = Vec::new();
        for (n, v) in &update.set {
            sets.push(format!("{} = {}", self.name(n), self.value(to_attribute(v))));
        }
        for (n, v) in &update.set_if_absent {
            let name = self.name(n);
            sets.push(format!("{name} = if_not_exists({name}, {})", self.value(to_attribute(v))));
        }
        let mut clauses = Vec::new();
        if !sets.is_empty() {
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        if !update.add.is_empty() {
            let adds: Vec<String> = update
                .add
                .iter()
                .map(|(n, by)| format!("{} {}", self.name(n), self.value(AttributeValue::N(by.to_string()))))
                .collect();
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        if !update.remove.is_empty() {
            let removes: Vec<String> = update.remove.iter().map(|n| self.name(n)).collect();
            clauses.push(format!("REMOVE {}", removes.join(", ")));
        }
        if clauses.is_empty() {
            // An update that changes nothing still creates the item, as in the memory store.
            clauses.push(format!("SET {} = {}", self.name(SK), self.value(AttributeValue::S(update.key.sk.clone()))));
        }
        clauses.join(" ")
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    pub fn values(&self) -> Option<Attributes> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_through_attributes() {
        let item = Item::new(&Key::new("USER#1", "PROFILE")).with("email", "a@b.co").with("n", 42).with("ok", true);
        assert_eq!(from_attributes(&to_attributes(&item)).unwrap(), item);
    }

    #[test]
    fn conditions_use_placeholders_for_every_name() {
        let mut e = Expr::default();
        let text = e.condition(&Condition::And(vec![Condition::Exists, Condition::equals("status", "pending")]));
        assert_eq!(text, "attribute_exists(#n0) AND #n1 = :v0");
        assert_eq!(e.names["#n1"], "status");
    }

    #[test]
    fn parentheses_appear_only_where_parts_nest() {
        let render = |c: Condition| Expr::default().condition(&c);
        let below = || Condition::AbsentOrBelow("n".into(), 5);
        assert_eq!(render(below()), "attribute_not_exists(#n0) OR #n0 < :v0");
        assert_eq!(render(Condition::And(vec![below()])), "attribute_not_exists(#n0) OR #n0 < :v0");
        assert_eq!(
            render(Condition::And(vec![Condition::Exists, below()])),
            "attribute_exists(#n0) AND (attribute_not_exists(#n1) OR #n1 < :v0)"
        );
        assert_eq!(render(Condition::Not(Box::new(Condition::equals("s", "a")))), "NOT #n0 = :v0");
        assert_eq!(render(Condition::And(vec![])), "attribute_exists(#n0) OR attribute_not_exists(#n0)");
    }

    #[test]
    fn updates_render_set_add_and_remove() {
        let mut e = Expr::default();
        let u =
            Update::new(Key::new("a", "b")).set("status", "paid").set_if_absent("first", 1).add("count", 1).remove("x");
        assert_eq!(e.update(&u), "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1) ADD #n2 :v2 REMOVE #n3");
    }
}
