//! The API reference: `/openapi.json` (the generated document) and `/docs`, a page rendered
//! from it on the server (every operation with its parameters, body, answers and error codes,
//! then every schema), so it works offline and never drifts from the document.

use serde_json::Value;

use super::Page;
use super::pages::plain;

pub fn document() -> Page {
    match crate::openapi::json() {
        Ok(text) => plain(200, "application/json", text),
        Err(e) => plain(500, "text/plain", format!("the document could not be written: {e}")),
    }
}

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ info.title }} API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a2e; }
code, pre { font: 13px ui-monospace, monospace; } pre { background: #f4f4f8; padding: .75rem; overflow-x: auto; border-radius: 6px; }
.op { border: 1px solid #ddd; border-radius: 8px; padding: .5rem 1rem; margin: 1rem 0; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; }
.GET { color: #0a7d32; } .POST { color: #1d4ed8; } .DELETE { color: #b91c1c; } .PUT { color: #a16207; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .2rem .8rem .2rem 0; vertical-align: top; }
</style></head><body>
<h1>{{ info.title }} API <small>{{ info.version }}</small></h1>
<p>{{ info.description }}</p>
<p>The document itself: <a href="/openapi.json">/openapi.json</a> (OpenAPI {{ openapi }}).</p>
<h2>Operations</h2>
{% for op in operations %}
<div class="op" id="{{ op.id }}">
<p><span class="method {{ op.method }}">{{ op.method }}</span> <code>{{ op.path }}</code> {% if op.security %}<small>({{ op.security }})</small>{% endif %}</p>
<p>{{ op.summary }}</p>
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th></th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code>{% if p.required %} *{% endif %}</td><td>{{ p.in }}</td><td>{{ p.description }}</td></tr>{% endfor %}
</table>{% endif %}
{% if op.body %}<p>Body: <a href="#schema-{{ op.body }}"><code>{{ op.body }}</code></a></p>{% endif %}
<table><tr><th>status</th><th>answer</th></tr>
{% for r in op.responses %}<tr><td>{{ r.status }}</td><td>{% if r.schema %}<a href="#schema-{{ r.schema }}"><code>{{ r.schema }}</code></a> {% endif %}{{ r.description }}</td></tr>{% endfor %}
</table>
</div>
{% endfor %}
<h2>Schemas</h2>
{% for s in schemas %}<h3 id="schema-{{ s.name }}"><code>{{ s.name }}</code></h3><pre>{{ s.json }}</pre>{% endfor %}
</body></html>
"##;

fn schema_name(content: &Value) -> Option<String> {
    let reference = content.pointer("/application~1json/schema/$ref")?.as_str()?;
    Some(reference.rsplit('/').next()?.to_string())
}

/// The page's view of the document: operations in the document's order, then the schemas.
fn view(doc: &Value) -> Value {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let security = op["security"].as_array().map(|all| {
                let names: Vec<String> = all
                    .iter()
                    .map(|s| s.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_else(|| "none".into()))
                    .collect();
                names.join(" or ")
            });
            let responses: Vec<Value> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| {
                    serde_json::json!({ "status": status, "description": r["description"], "schema": schema_name(&r["content"]) })
                })
                .collect();
            operations.push(serde_json::json!({
                "id": op["operationId"],
                "method": method.to_uppercase(),
                "path": path,
                "summary": op["summary"],
                "security": security,
                "parameters": op["parameters"],
                "body": op.get("requestBody").and_then(|b| schema_name(&b["content"])),
                "responses": responses,
            }));
        }
    }
    let schemas: Vec<Value> = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| serde_json::json!({ "name": name, "json": serde_json::to_string_pretty(s).unwrap_or_default() }))
        .collect();
    serde_json::json!({ "info": doc["info"], "openapi": doc["openapi"], "operations": operations, "schemas": schemas })
}

pub fn page() -> Page {
    let rendered = serde_json::to_value(crate::openapi::document()).map_err(|e| e.to_string()).and_then(|doc| {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.render_str(PAGE, minijinja::value::Serde(view(&doc))).map_err(|e| e.to_string())
    });
    match rendered {
        Ok(html) => plain(200, "text/html; charset=utf-8", html),
        Err(e) => plain(500, "text/plain", format!("the reference could not be rendered: {e}")),
    }
}
