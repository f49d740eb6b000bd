//! Stripe's prices as Tollgate reads them: found by lookup key (the catalog's prices named by
//! amount), and compared with what the catalog says they charge.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::client::{StripeClient, StripeError};
use super::events::List;
use crate::catalog::{CatalogPrice, TaxBehavior};

/// A price as Stripe holds it (`currency_options` only when expanded).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StripePrice {
    pub id: String,
    #[serde(default)]
    pub active: bool,
    pub currency: String,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    #[serde(default)]
    pub lookup_key: Option<String>,
    #[serde(default)]
    pub recurring: Option<Recurring>,
    #[serde(default)]
    pub tax_behavior: Option<String>,
    #[serde(default)]
    pub currency_options: Option<BTreeMap<String, CurrencyOption>>,
    #[serde(default)]
    pub product: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Recurring {
    pub interval: String,
    #[serde(default)]
    pub interval_count: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CurrencyOption {
    #[serde(default)]
    pub unit_amount: Option<i64>,
}

/// Stripe takes at most ten lookup keys per list call.
const KEYS_PER_CALL: usize = 10;

/// `path?a=b&c=d`, every value percent-encoded.
pub(super) fn with_query(path: &str, query: &[(String, String)]) -> String {
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    format!("{path}?{}", pairs.join("&"))
}

/// The query of `GET /v1/prices` for these lookup keys: active prices, their currency options
/// expanded.
pub fn lookup_query(keys: &[String]) -> Vec<(String, String)> {
    let mut query = vec![
        ("active".to_string(), "true".to_string()),
        ("limit".to_string(), "100".to_string()),
        ("expand[0]".to_string(), "data.currency_options".to_string()),
    ];
    for (i, key) in keys.iter().enumerate() {
        query.push((format!("lookup_keys[{i}]"), key.clone()));
    }
    query
}

impl StripeClient {
    /// The active prices with these lookup keys: one call for up to ten keys.
    pub async fn prices_by_lookup_keys(&self, keys: &[String]) -> Result<Vec<StripePrice>, StripeError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(KEYS_PER_CALL) {
            let path = with_query("/v1/prices", &lookup_query(chunk));
            let list: Option<List<StripePrice>> = self.call(super::client::Method::GET, &path, None, None).await?;
            found.extend(list.map(|l| l.data).unwrap_or_default());
        }
        Ok(found)
    }
}

/// How Stripe's price differs from what the catalog says it charges (empty: it matches).
/// `tax`: also compare the tax behaviour (what `push` keeps; the functions do not mind it).
pub fn differences(want: &CatalogPrice, have: &StripePrice, tax: Option<TaxBehavior>) -> Vec<String> {
    let mut out = Vec::new();
    if have.unit_amount != want.amount || have.currency != want.currency {
        let amount = have.unit_amount.map_or("no amount".to_string(), |a| a.to_string());
        out.push(format!("{amount} {} (catalog: {} {})", have.currency, want.amount.unwrap_or(0), want.currency));
    }
    let interval = have.recurring.as_ref().map(|r| (r.interval.as_str(), r.interval_count.unwrap_or(1)));
    let wanted = want.interval.map(|i| (i.as_str(), 1));
    if interval != wanted {
        out.push(format!("billed {} (catalog: {})", describe_interval(interval), describe_interval(wanted)));
    }
    let options: BTreeMap<String, i64> = have
        .currency_options
        .iter()
        .flatten()
        .filter(|(currency, _)| **currency != have.currency)
        .filter_map(|(currency, option)| Some((currency.clone(), option.unit_amount?)))
        .collect();
    if have.currency_options.is_some() && options != want.currency_options {
        out.push(format!("in other currencies {options:?} (catalog: {:?})", want.currency_options));
    }
    if let Some(tax) = tax {
        let have_tax = have.tax_behavior.as_deref().unwrap_or("unspecified");
        if have_tax != tax.as_str() {
            out.push(format!("tax behaviour {have_tax} (catalog: {})", tax.as_str()));
        }
    }
    out
}

fn describe_interval(interval: Option<(&str, i64)>) -> String {
    match interval {
        None => "once".to_string(),
        Some((unit, 1)) => format!("every {unit}"),
        Some((unit, n)) => format!("every {n} {unit}s"),
    }
}

/// The ids of the catalog's prices named by amount, from Stripe: refused when one is missing or
/// charges something else than the catalog says (then the functions would sell at a price the
/// catalog does not show).
pub async fn resolve(client: &StripeClient, wanted: &[CatalogPrice]) -> Result<BTreeMap<String, String>, String> {
    let keys: Vec<String> = wanted.iter().filter_map(|p| p.lookup_key.clone()).collect();
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let found = client
        .prices_by_lookup_keys(&keys)
        .await
        .map_err(|e| format!("cannot list the catalog's prices in Stripe: {e}"))?;
    let mut ids = BTreeMap::new();
    for want in wanted {
        let Some(key) = &want.lookup_key else { continue };
        let Some(have) = found.iter().find(|p| p.lookup_key.as_ref() == Some(key)) else { continue };
        let differs = differences(want, have, None);
        if !differs.is_empty() {
            return Err(format!(
                "Stripe's price {} ({key}) charges {}: run `tollgate stripe push`",
                have.id,
                differs.join(", ")
            ));
        }
        ids.insert(key.clone(), have.id.clone());
    }
    Ok(ids)
}
