//! The production store: one DynamoDB table (PK/SK strings, GSI1 for look-ups, TTL on `ttl`).

pub mod items;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update as DynamoUpdate,
};
use items::{Expr, from_attributes, key_attributes, to_attributes};

use super::{GSI1, GSI1PK, GSI1SK, Item, Key, PK, Page, Query, SK, StoreError, TTL, Tx, Update, Write};

#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// Transactions that lose a race with another transaction on the same item are retried this
/// often before the caller sees the failure.
const CONFLICT_RETRIES: u32 = 4;

impl DynamoDbStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore { client, table: table.into() }
    }

    /// A client from the default AWS chain (Lambda's role), or for a local endpoint such as
    /// moto's server, with placeholder credentials when none are configured.
    pub async fn connect(table: &str, endpoint: Option<&str>) -> Self {
        let shared = crate::outbound::HttpClient::new().aws_config(endpoint).await;
        Self::new(Client::new(&shared), table)
    }

    /// A client from the process's AWS configuration (`endpoint`: `DYNAMODB_ENDPOINT`).
    pub fn with_config(aws: &aws_types::SdkConfig, table: &str, endpoint: Option<&str>) -> Self {
        let mut config = aws_sdk_dynamodb::config::Builder::from(aws);
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        Self::new(Client::from_conf(config.build()), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item().map(from_attributes).transpose()
    }

    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut found: Vec<Item> = Vec::new();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(key_attributes).collect()))
                .consistent_read(true)
                .build()
                .map_err(invalid)?,
        );
        // DynamoDB may leave keys unprocessed under load; ask again for those.
        for attempt in 0..5u32 {
            let Some(request) = pending.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 * 2u64.pow(attempt))).await;
            }
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(unavailable)?;
            for attrs in out.responses().and_then(|r| r.get(&self.table)).map(Vec::as_slice).unwrap_or_default() {
                found.push(from_attributes(attrs)?);
            }
            pending = out.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()).cloned();
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable("BatchGetItem left keys unprocessed".into()));
        }
        Ok(keys.iter().map(|k| found.iter().find(|i| &i.key() == k).cloned()).collect())
    }

    pub async fn write(&self, write: Write) -> Result<(), StoreError> {
        let condition_failed = |e: &str| e.contains("ConditionalCheckFailed");
        let result = match write {
            Write::Put { item, condition, .. } => {
                let mut expr = Expr::default();
                let cond = condition.as_ref().map(|c| expr.condition(c));
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_attributes(&item)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.into_service_error().meta().code().unwrap_or_default().to_string())
            }
            Write::Update(update) => return self.update(update).await.map(|_| ()),
            Write::Delete { key, condition } => {
                let mut expr = Expr::default();
                let cond = condition.as_ref().map(|c| expr.condition(c));
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(&key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.into_service_error().meta().code().unwrap_or_default().to_string())
            }
            // A lone check is a transaction of one; its refusal is a single write's.
            Write::Check { .. } => {
                return match self.transact(Tx::new().with(super::Label::Event, write)).await {
                    Err(StoreError::Cancelled { .. }) => Err(StoreError::ConditionFailed),
                    other => other,
                };
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(code) if condition_failed(&code) => Err(StoreError::ConditionFailed),
            Err(code) => Err(StoreError::Unavailable(code)),
        }
    }

    pub async fn update(&self, update: Update) -> Result<Item, StoreError> {
        let mut expr = Expr::default();
        let text = expr.update(&update);
        let cond = update.condition.as_ref().map(|c| expr.condition(c));
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&update.key)))
            .update_expression(text)
            .set_condition_expression(cond)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => from_attributes(out.attributes().ok_or_else(|| invalid("UpdateItem returned no attributes"))?),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_conditional_check_failed_exception() {
                    Err(StoreError::ConditionFailed)
                } else {
                    Err(StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(service).to_string()))
                }
            }
        }
    }

    pub async fn transact(&self, tx: Tx) -> Result<(), StoreError> {
        let items: Vec<TransactWriteItem> = tx.writes().map(|w| self.transact_item(w)).collect::<Result<_, _>>()?;
        let mut attempt = 0;
        loop {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let service = match err {
                SdkError::ServiceError(ctx) => ctx.into_err(),
                other => return Err(unavailable(other)),
            };
            match service {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    let failed: Vec<usize> = reasons
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(i, _)| i)
                        .collect();
                    if !failed.is_empty() {
                        return Err(StoreError::Cancelled { failed: tx.labels_at(failed) });
                    }
                    let conflict = reasons.iter().any(|r| r.code() == Some("TransactionConflict"));
                    if !conflict || attempt >= CONFLICT_RETRIES {
                        return Err(StoreError::Unavailable(format!("transaction cancelled: {reasons:?}")));
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) if attempt < CONFLICT_RETRIES => {}
                other => {
                    return Err(StoreError::Unavailable(
                        aws_sdk_dynamodb::error::DisplayErrorContext(other).to_string(),
                    ));
                }
            }
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(20 * 2u64.pow(attempt))).await;
        }
    }

    fn transact_item(&self, write: &Write) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let item = match write {
            Write::Put { item, condition, .. } => {
                let cond = condition.as_ref().map(|c| expr.condition(c));
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attributes(item)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().put(put).build()
            }
            Write::Update(update) => {
                let text = expr.update(update);
                let cond = update.condition.as_ref().map(|c| expr.condition(c));
                let up = DynamoUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(&update.key)))
                    .update_expression(text)
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().update(up).build()
            }
            Write::Delete { key, condition } => {
                let cond = condition.as_ref().map(|c| expr.condition(c));
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().delete(del).build()
            }
            Write::Check { key, condition } => {
                let cond = expr.condition(condition);
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(invalid)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }

    pub async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let mut expr = Expr::default();
        let pk = expr.condition(&super::Condition::equals(PK, query.pk.as_str()));
        let key_condition = if query.sk_prefix.is_empty() {
            pk
        } else {
            let sk_name = "#sk".to_string();
            expr.names.insert(sk_name.clone(), SK.to_string());
            expr.values.insert(":prefix".into(), aws_sdk_dynamodb::types::AttributeValue::S(query.sk_prefix.clone()));
            format!("{pk} AND begins_with({sk_name}, :prefix)")
        };
        let start = query.after.as_ref().map(|sk| key_attributes(&Key::new(query.pk.clone(), sk.clone())));
        // One more than asked tells whether another page follows.
        let limit = i32::try_from(query.limit + 1).map_err(invalid)?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(!query.newest_first)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut items: Vec<Item> = out.items().iter().map(from_attributes).collect::<Result<_, _>>()?;
        let more = items.len() > query.limit;
        items.truncate(query.limit);
        let last_sk = if more { items.last().and_then(|i| i.string(SK)) } else { None };
        Ok(Page { items, last_sk })
    }

    pub async fn query_index(&self, value: &str, limit: usize, newest_first: bool) -> Result<Vec<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .scan_index_forward(!newest_first)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(value.to_string()))
            .limit(i32::try_from(limit).map_err(invalid)?)
            .send()
            .await
            .map_err(unavailable)?;
        out.items().iter().map(from_attributes).collect()
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client.describe_table().table_name(&self.table).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Creates the table as template.yaml declares it: on-demand, PK/SK, GSI1, TTL on `ttl`.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(invalid)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(invalid)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key(GSI1PK, KeyType::Hash)?)
            .key_schema(key(GSI1SK, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(invalid)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(GSI1PK)?)
            .attribute_definitions(attr(GSI1SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await
            .map_err(unavailable)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL).build().map_err(invalid)?,
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
