//! Terraform modules: the `.tf` and `.tfvars` files of one directory parsed with `hcl-rs`,
//! variables resolved from their defaults, `terraform.tfvars` and `*.auto.tfvars`, locals
//! evaluated, `aws_iam_policy_document` / `google_iam_policy` data sources turned into policy
//! JSON, and every resource partially evaluated into a JSON value for the checks.
//! References that cannot be resolved (other resources' attributes) stay as `${...}` text.

use crate::cloud::{self, Resource};
use crate::{Hit, Policy, Source};
use hcl::eval::{Context, Evaluate};
use hcl::expr::{Expression, ObjectKey, TemplateExpr};
use hcl::{Block, Body};
use lantern_core::Warning;
use serde_json::{Map, Value};

/// Rounds of local evaluation (locals referring to locals).
const LOCAL_ROUNDS: usize = 8;

struct Parsed {
    idx: usize,
    body: Body,
}

/// A parsed module: its `.tf` bodies and tfvars, and what could not be parsed.
pub(crate) struct Module {
    tf: Vec<Parsed>,
    tfvars: Vec<(String, Body)>,
    pub warnings: Vec<Warning>,
}

/// Values passed to a module by a `module` block (`source = "./path"`), already evaluated in
/// the caller.
pub(crate) type Inputs = hcl::Map<String, hcl::Value>;

/// Parse the files of one module (one directory).
pub(crate) fn parse_module(files: &[Source]) -> Module {
    let mut m = Module {
        tf: Vec::new(),
        tfvars: Vec::new(),
        warnings: Vec::new(),
    };
    for (idx, f) in files.iter().enumerate() {
        if nesting(&f.text) > crate::MAX_DEPTH * 2 {
            m.warnings.push(Warning::new(
                f.loc.path.clone(),
                format!(
                    "terraform nests deeper than {}: not checked",
                    crate::MAX_DEPTH * 2
                ),
            ));
            continue;
        }
        match hcl::parse(&f.text) {
            Ok(body) if f.loc.path.ends_with(".tfvars") => {
                m.tfvars.push((f.loc.path.clone(), body))
            }
            Ok(body) => m.tf.push(Parsed { idx, body }),
            Err(e) => m.warnings.push(Warning::new(
                f.loc.path.clone(),
                format!("invalid terraform: {}", one_line(&e.to_string())),
            )),
        }
    }
    m
}

/// The evaluation context of a module: `var` (defaults, tfvars, then `inputs`), `local`, `data`.
fn context(m: &mut Module, inputs: Option<&Inputs>) -> Context<'static> {
    let mut vars = variables(&m.tf, &mut m.tfvars);
    if let (hcl::Value::Object(v), Some(i)) = (&mut vars, inputs) {
        for (k, x) in i {
            v.insert(k.clone(), x.clone());
        }
    }
    let mut ctx = Context::new();
    ctx.declare_var("var", vars);
    let locals = locals(&m.tf, &mut ctx);
    ctx.declare_var("local", locals);
    let data = data_sources(&m.tf, &ctx);
    ctx.declare_var("data", data);
    ctx
}

/// Local module calls of a module: (source path as written, inputs that evaluate).
pub(crate) fn module_calls(m: &mut Module) -> Vec<(String, Inputs)> {
    let ctx = context(m, None);
    let mut out = Vec::new();
    for p in &m.tf {
        for b in p
            .body
            .blocks()
            .filter(|b| b.identifier.as_str() == "module")
        {
            let mut inputs = Inputs::new();
            let mut source = None;
            for a in b.body.attributes() {
                match (a.key.as_str(), a.expr.evaluate(&ctx)) {
                    ("source", Ok(hcl::Value::String(s))) => source = Some(s),
                    (k, Ok(v)) => {
                        inputs.insert(k.to_string(), v);
                    }
                    _ => {}
                }
            }
            if let Some(s) = source.filter(|s| s.starts_with("./") || s.starts_with("../")) {
                out.push((s, inputs));
            }
        }
    }
    out
}

/// Check a parsed module, with the inputs of one of its callers when given.
pub(crate) fn check_module(
    m: &mut Module,
    files: &[Source],
    policy: &Policy,
    inputs: Option<&Inputs>,
) -> Vec<Hit> {
    if m.tf.is_empty() {
        return Vec::new();
    }
    let ctx = context(m, inputs);
    let mut resources = Vec::new();
    for p in &m.tf {
        for b in p
            .body
            .blocks()
            .filter(|b| b.identifier.as_str() == "resource")
        {
            let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
            let [kind, name] = labels.as_slice() else {
                continue;
            };
            let mut body = b.body.clone();
            let _ = body.evaluate_in_place(&ctx);
            resources.push(Resource {
                kind: kind.to_string(),
                name: name.to_string(),
                body: body_json(&body, 0),
                src: p.idx,
                line: block_line(&files[p.idx].text, "resource", kind, name),
            });
        }
    }
    cloud::check(&resources, policy)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Bracket nesting, an upper bound of the parser's recursion (strings counted too).
fn nesting(text: &str) -> usize {
    let (mut d, mut max) = (0usize, 0usize);
    for c in text.bytes() {
        match c {
            b'{' | b'[' | b'(' => {
                d += 1;
                max = max.max(d);
            }
            b'}' | b']' | b')' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Line of `resource "kind" "name"` in a file.
fn block_line(text: &str, what: &str, kind: &str, name: &str) -> u32 {
    let q = |s: &str| format!("\"{s}\"");
    text.lines()
        .position(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.len() >= 3 && t[0] == what && t[1] == q(kind) && t[2].trim_end_matches('{') == q(name)
        })
        .map(|i| i as u32 + 1)
        .unwrap_or(1)
}

/// `var`: defaults, then `terraform.tfvars`, then `*.auto.tfvars` in name order.
fn variables(tf: &[Parsed], tfvars: &mut [(String, Body)]) -> hcl::Value {
    let empty = Context::new();
    let mut vars = hcl::Map::new();
    for p in tf {
        for b in p
            .body
            .blocks()
            .filter(|b| b.identifier.as_str() == "variable")
        {
            let Some(name) = b.labels.first() else {
                continue;
            };
            let default = b.body.attributes().find(|a| a.key.as_str() == "default");
            if let Some(v) = default.and_then(|a| a.expr.evaluate(&empty).ok()) {
                vars.insert(name.as_str().to_string(), v);
            }
        }
    }
    tfvars.sort_by_key(|(path, _)| (path.ends_with(".auto.tfvars"), path.clone()));
    for (path, body) in tfvars.iter() {
        let name = path.rsplit(['/', '!']).next().unwrap_or(path);
        if name != "terraform.tfvars" && !name.ends_with(".auto.tfvars") {
            continue;
        }
        for a in body.attributes() {
            if let Ok(v) = a.expr.evaluate(&empty) {
                vars.insert(a.key.as_str().to_string(), v);
            }
        }
    }
    hcl::Value::Object(vars)
}

/// `local`: evaluated in rounds so locals may refer to each other.
fn locals(tf: &[Parsed], ctx: &mut Context) -> hcl::Value {
    let exprs: Vec<(String, Expression)> = tf
        .iter()
        .flat_map(|p| {
            p.body
                .blocks()
                .filter(|b| b.identifier.as_str() == "locals")
        })
        .flat_map(|b| {
            b.body
                .attributes()
                .map(|a| (a.key.as_str().to_string(), a.expr.clone()))
        })
        .collect();
    let mut done = hcl::Map::new();
    for _ in 0..LOCAL_ROUNDS {
        ctx.declare_var("local", hcl::Value::Object(done.clone()));
        let before = done.len();
        for (k, e) in &exprs {
            if done.contains_key(k) {
                continue;
            }
            if let Ok(v) = e.evaluate(ctx) {
                done.insert(k.clone(), v);
            }
        }
        if done.len() == before {
            break;
        }
    }
    hcl::Value::Object(done)
}

/// `data`: policy documents rendered to the JSON their `json` / `policy_data` attribute holds.
fn data_sources(tf: &[Parsed], ctx: &Context) -> hcl::Value {
    let mut aws = hcl::Map::new();
    let mut gcp = hcl::Map::new();
    for p in tf {
        for b in p.body.blocks().filter(|b| b.identifier.as_str() == "data") {
            let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
            let [kind, name] = labels.as_slice() else {
                continue;
            };
            let mut body = b.body.clone();
            let _ = body.evaluate_in_place(ctx);
            let v = body_json(&body, 0);
            let mut attrs = hcl::Map::new();
            match *kind {
                "aws_iam_policy_document" => {
                    let json = aws_policy_document(&v).to_string();
                    attrs.insert("json".into(), hcl::Value::from(json.clone()));
                    attrs.insert("minified_json".into(), hcl::Value::from(json));
                    aws.insert(name.to_string(), hcl::Value::Object(attrs));
                }
                "google_iam_policy" => {
                    let bindings: Vec<Value> = crate::yaml::list(v.get("binding"))
                        .into_iter()
                        .map(|b| serde_json::json!({"role": b.get("role"), "members": b.get("members")}))
                        .collect();
                    let json = serde_json::json!({ "bindings": bindings }).to_string();
                    attrs.insert("policy_data".into(), hcl::Value::from(json));
                    gcp.insert(name.to_string(), hcl::Value::Object(attrs));
                }
                _ => {}
            }
        }
    }
    let mut data = hcl::Map::new();
    data.insert("aws_iam_policy_document".into(), hcl::Value::Object(aws));
    data.insert("google_iam_policy".into(), hcl::Value::Object(gcp));
    hcl::Value::Object(data)
}

/// The policy JSON an `aws_iam_policy_document` renders.
fn aws_policy_document(v: &Value) -> Value {
    use crate::yaml::list;
    let mut stmts = Vec::new();
    for s in list(v.get("statement")) {
        let mut o = Map::new();
        let effect = s
            .get("effect")
            .cloned()
            .unwrap_or_else(|| Value::from("Allow"));
        o.insert("Effect".into(), effect);
        for (from, to) in [
            ("actions", "Action"),
            ("not_actions", "NotAction"),
            ("resources", "Resource"),
            ("not_resources", "NotResource"),
            ("sid", "Sid"),
        ] {
            if let Some(x) = s.get(from) {
                o.insert(to.into(), x.clone());
            }
        }
        let mut principal = Map::new();
        for p in list(s.get("principals")) {
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("AWS");
            let ids = p.get("identifiers").cloned().unwrap_or(Value::Null);
            if ty == "*" {
                o.insert("Principal".into(), Value::from("*"));
            } else {
                principal.insert(ty.to_string(), ids);
            }
        }
        if !principal.is_empty() && !o.contains_key("Principal") {
            o.insert("Principal".into(), Value::Object(principal));
        }
        let mut cond: Map<String, Value> = Map::new();
        for c in list(s.get("condition")) {
            let test = c
                .get("test")
                .and_then(Value::as_str)
                .unwrap_or("StringEquals")
                .to_string();
            let var = c
                .get("variable")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let entry = cond
                .entry(test)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(var, c.get("values").cloned().unwrap_or(Value::Null));
            }
        }
        if !cond.is_empty() {
            o.insert("Condition".into(), Value::Object(cond));
        }
        stmts.push(Value::Object(o));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": stmts})
}

/// A body as JSON: attributes by key; nested blocks as lists of objects under their name
/// (`dynamic "x" { content {...} }` becomes an `x` block).
pub(crate) fn body_json(b: &Body, d: usize) -> Value {
    let mut o = Map::new();
    if d > crate::MAX_DEPTH {
        return Value::Object(o);
    }
    for a in b.attributes() {
        o.insert(a.key.as_str().to_string(), expr_json(&a.expr, d + 1));
    }
    for blk in b.blocks() {
        let (name, content) = dynamic_content(blk);
        let v = body_json(content, d + 1);
        match o.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(a) => a.push(v),
            other => *other = Value::Array(vec![v]),
        }
    }
    Value::Object(o)
}

fn dynamic_content(blk: &Block) -> (String, &Body) {
    if blk.identifier.as_str() == "dynamic" {
        if let (Some(l), Some(c)) = (
            blk.labels.first(),
            blk.body
                .blocks()
                .find(|b| b.identifier.as_str() == "content"),
        ) {
            return (l.as_str().to_string(), &c.body);
        }
    }
    (blk.identifier.as_str().to_string(), &blk.body)
}

fn expr_json(e: &Expression, d: usize) -> Value {
    if d > crate::MAX_DEPTH {
        return Value::Null;
    }
    match e {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(*b),
        Expression::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Expression::String(s) => Value::String(s.clone()),
        Expression::Array(a) => Value::Array(a.iter().map(|x| expr_json(x, d + 1)).collect()),
        Expression::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                let key = match k {
                    ObjectKey::Identifier(i) => i.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    ObjectKey::Expression(x) => text(x),
                    _ => continue,
                };
                m.insert(key, expr_json(v, d + 1));
            }
            Value::Object(m)
        }
        Expression::TemplateExpr(t) => Value::String(match t.as_ref() {
            TemplateExpr::QuotedString(s) => s.clone(),
            TemplateExpr::Heredoc(h) => h.template.clone(),
        }),
        Expression::Parenthesis(x) => expr_json(x, d + 1),
        Expression::FuncCall(f) if f.name.name.as_str() == "jsonencode" => f
            .args
            .first()
            .map(|a| expr_json(a, d + 1))
            .unwrap_or(Value::Null),
        other => Value::String(format!("${{{}}}", text(other))),
    }
}

fn text(e: &Expression) -> String {
    hcl::format::to_string(e).unwrap_or_default()
}
