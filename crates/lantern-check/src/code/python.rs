//! The Python side of the code checks: parse with tree-sitter-python, collect imports (for
//! aliases), simple assignments (for `**kwargs` dicts and downloaded values) and every call,
//! then hand each call, with its callee resolved to a dotted name, to the rules in
//! [`super::rules`]. The tree is walked with a cursor, never recursively.

use std::collections::HashMap;
use tree_sitter::{Node, Parser, Tree};

/// Parse Python source; `None` if tree-sitter gives up (it normally returns a tree with
/// error nodes, and calls inside the intact parts are still seen).
pub fn parse(src: &[u8]) -> Option<Tree> {
    let mut p = Parser::new();
    p.set_language(&tree_sitter_python::LANGUAGE.into()).ok()?;
    p.parse(src, None)
}

/// A literal value of an argument, when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lit {
    /// `True`.
    True,
    /// `False`.
    False,
    /// A plain string (no f-string interpolation).
    Str(String),
    /// Anything else.
    Other,
}

/// One call with its arguments.
pub struct Call<'t> {
    /// The callee resolved through imports: `transformers.AutoModel.from_pretrained`.
    pub callee: String,
    /// Positional arguments.
    pub args: Vec<Node<'t>>,
    /// Keyword arguments, including those of `**{...}` literal dicts and `**name` of a dict
    /// assigned once in the file.
    pub kwargs: Vec<(String, Node<'t>)>,
    /// Whether some arguments could not be seen (`*args`, `**kwargs` of unknown content).
    pub opaque: bool,
    /// 1-based line.
    pub line: u32,
}

/// Everything the rules need from one file.
pub struct Module<'t> {
    /// Source bytes.
    pub src: &'t [u8],
    /// Local name → dotted import path.
    pub aliases: HashMap<String, String>,
    /// Name → right-hand side of its (last) simple assignment, anywhere in the file.
    pub assigned: HashMap<String, Node<'t>>,
    /// How many times each name is assigned, anywhere in the file.
    pub assign_count: HashMap<String, usize>,
    /// Names assigned at module level (not inside a function or class).
    pub module_level: std::collections::HashSet<String>,
    /// Names changed after assignment (`d[k] = v`, `d.update(...)`): their dicts are not
    /// trusted as literal keyword arguments.
    pub mutated: std::collections::HashSet<String>,
    /// Every call, in source order.
    pub calls: Vec<Node<'t>>,
}

impl<'t> Module<'t> {
    /// Collect imports, assignments and calls of a parsed file.
    pub fn new(tree: &'t Tree, src: &'t [u8]) -> Module<'t> {
        let mut m = Module {
            src,
            aliases: HashMap::new(),
            assigned: HashMap::new(),
            assign_count: HashMap::new(),
            module_level: std::collections::HashSet::new(),
            mutated: std::collections::HashSet::new(),
            calls: Vec::new(),
        };
        let mut cursor = tree.walk();
        loop {
            let node = cursor.node();
            match node.kind() {
                "import_statement" => m.import(node, None),
                "import_from_statement" => {
                    let module = node
                        .child_by_field_name("module_name")
                        .map(|n| m.text(n).to_string());
                    m.import(node, module);
                }
                "assignment" => m.assignment(node),
                "call" => {
                    m.note_mutation(node);
                    m.calls.push(node);
                }
                _ => {}
            }
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    return m;
                }
            }
        }
    }

    /// Source text of a node.
    pub fn text(&self, n: Node<'_>) -> &'t str {
        n.utf8_text(self.src).unwrap_or("")
    }

    fn import(&mut self, node: Node<'t>, from: Option<String>) {
        let mut c = node.walk();
        for name in node.children_by_field_name("name", &mut c) {
            let (path, local) = match name.kind() {
                "aliased_import" => {
                    let path = name.child_by_field_name("name").map(|n| self.text(n));
                    let alias = name.child_by_field_name("alias").map(|n| self.text(n));
                    match (path, alias) {
                        (Some(p), Some(a)) => (p.to_string(), a.to_string()),
                        _ => continue,
                    }
                }
                _ => {
                    let p = self.text(name).to_string();
                    // `import a.b` binds `a`; `from m import b` binds `b`.
                    let local = match &from {
                        Some(_) => p.clone(),
                        None => p.split('.').next().unwrap_or(&p).to_string(),
                    };
                    let path = if from.is_some() { p } else { local.clone() };
                    (path, local)
                }
            };
            let full = match &from {
                Some(m) => format!("{}.{path}", m.trim_start_matches('.')),
                None => path,
            };
            self.aliases.insert(local, full);
        }
    }

    fn assignment(&mut self, node: Node<'t>) {
        if let (Some(l), Some(r)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) {
            if l.kind() == "subscript" {
                if let Some(v) = l.child_by_field_name("value") {
                    self.mutated.insert(self.text(v).to_string());
                }
            }
            if l.kind() == "identifier" {
                let name = self.text(l).to_string();
                let top = node
                    .parent()
                    .and_then(|p| p.parent())
                    .is_some_and(|g| g.kind() == "module");
                if top {
                    self.module_level.insert(name.clone());
                }
                *self.assign_count.entry(name.clone()).or_default() += 1;
                self.assigned.insert(name, r);
            }
        }
    }

    /// `d.update(...)` / `d.setdefault(...)` / `d.pop(...)` mark `d` as mutated.
    fn note_mutation(&mut self, call: Node<'t>) {
        let Some(f) = call.child_by_field_name("function") else {
            return;
        };
        if f.kind() != "attribute" {
            return;
        }
        let attr = f.child_by_field_name("attribute").map(|a| self.text(a));
        if matches!(attr, Some("update" | "setdefault" | "pop" | "__setitem__")) {
            if let Some(obj) = f.child_by_field_name("object") {
                self.mutated.insert(self.text(obj).to_string());
            }
        }
    }

    /// The right-hand side of a name assigned exactly once in the file (and, with `top`, at
    /// module level, so a function parameter of the same name cannot shadow it unseen).
    pub fn single_assignment(&self, name: &str, top: bool) -> Option<Node<'t>> {
        if self.assign_count.get(name) != Some(&1) || (top && !self.module_level.contains(name)) {
            return None;
        }
        self.assigned.get(name).copied()
    }

    /// The dotted name of an expression (`a.b.c`), with the first segment resolved through
    /// the imports; `None` for anything that is not a name or attribute chain.
    pub fn dotted(&self, n: Node<'_>) -> Option<String> {
        match n.kind() {
            "identifier" => {
                let t = self.text(n);
                Some(
                    self.aliases
                        .get(t)
                        .cloned()
                        .unwrap_or_else(|| t.to_string()),
                )
            }
            "attribute" => {
                let obj = self.dotted(n.child_by_field_name("object")?)?;
                let attr = self.text(n.child_by_field_name("attribute")?);
                Some(format!("{obj}.{attr}"))
            }
            // `AutoModel.from_pretrained(...)` on a call result: keep the attribute chain.
            "call" => self.dotted(n.child_by_field_name("function")?),
            _ => None,
        }
    }

    /// Break a call node into callee and arguments.
    pub fn call(&self, node: Node<'t>) -> Option<Call<'t>> {
        let callee = self.dotted(node.child_by_field_name("function")?)?;
        let list = node.child_by_field_name("arguments")?;
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        let mut opaque = false;
        let mut c = list.walk();
        for a in list.named_children(&mut c) {
            match a.kind() {
                "keyword_argument" => {
                    if let (Some(k), Some(v)) = (
                        a.child_by_field_name("name"),
                        a.child_by_field_name("value"),
                    ) {
                        kwargs.push((self.text(k).to_string(), v));
                    }
                }
                "dictionary_splat" => self.splat(a, &mut kwargs, &mut opaque),
                "list_splat" => opaque = true,
                "comment" => {}
                _ => args.push(a),
            }
        }
        Some(Call {
            callee,
            args,
            kwargs,
            opaque,
            line: node.start_position().row as u32 + 1,
        })
    }

    /// `**{"k": v}`, `**dict(k=v)` or `**name` where `name` is assigned one of those.
    fn splat(&self, node: Node<'t>, out: &mut Vec<(String, Node<'t>)>, opaque: &mut bool) {
        let Some(mut e) = node.named_child(0) else {
            return;
        };
        if e.kind() == "identifier" {
            if self.mutated.contains(self.text(e)) {
                *opaque = true;
                return;
            }
            match self.single_assignment(self.text(e), false) {
                Some(r) => e = r,
                None => {
                    *opaque = true;
                    return;
                }
            }
        }
        match e.kind() {
            "dictionary" => {
                let mut c = e.walk();
                for pair in e.named_children(&mut c).filter(|p| p.kind() == "pair") {
                    let k = pair.child_by_field_name("key").map(|k| self.lit(k));
                    if let (Some(Lit::Str(k)), Some(v)) = (k, pair.child_by_field_name("value")) {
                        out.push((k, v));
                    }
                }
            }
            "call" if self.dotted_raw(e) == Some("dict") => match self.call(e) {
                Some(inner) => {
                    *opaque |= inner.opaque;
                    out.extend(inner.kwargs);
                }
                None => *opaque = true,
            },
            _ => *opaque = true,
        }
    }

    fn dotted_raw(&self, call: Node<'_>) -> Option<&'t str> {
        call.child_by_field_name("function").map(|f| self.text(f))
    }

    /// The literal value of an expression.
    pub fn lit(&self, n: Node<'_>) -> Lit {
        match n.kind() {
            "true" => Lit::True,
            "false" => Lit::False,
            "string" => {
                let mut c = n.walk();
                let mut s = String::new();
                for part in n.named_children(&mut c) {
                    match part.kind() {
                        "string_content" => s.push_str(self.text(part)),
                        "string_start" | "string_end" => {}
                        _ => return Lit::Other,
                    }
                }
                Lit::Str(s)
            }
            "identifier" if self.is_parameter(n) => Lit::Other,
            "identifier" => match self.single_assignment(self.text(n), true) {
                Some(r) if matches!(r.kind(), "string" | "true" | "false") => self.lit(r),
                _ => Lit::Other,
            },
            _ => Lit::Other,
        }
    }

    /// Whether an identifier names a parameter of an enclosing function (or lambda).
    fn is_parameter(&self, n: Node<'_>) -> bool {
        let name = self.text(n);
        let mut cur = n.parent();
        while let Some(p) = cur {
            if matches!(p.kind(), "function_definition" | "lambda") {
                if let Some(params) = p.child_by_field_name("parameters") {
                    if self.names_under(params).iter().any(|x| x == name) {
                        return true;
                    }
                }
            }
            cur = p.parent();
        }
        false
    }

    /// Identifiers and resolved callees appearing anywhere under `n` (bounded walk).
    pub fn names_under(&self, n: Node<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = n.walk();
        let mut budget = 4096usize;
        loop {
            let node = cursor.node();
            budget = budget.saturating_sub(1);
            match node.kind() {
                "identifier" => out.push(self.text(node).to_string()),
                "call" => {
                    if let Some(f) = node.child_by_field_name("function") {
                        out.extend(self.dotted(f));
                    }
                }
                _ => {}
            }
            if budget > 0 && cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.node() == n {
                    return out;
                }
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return out;
                }
            }
        }
    }
}

impl Call<'_> {
    /// A keyword argument by name.
    pub fn kw(&self, name: &str) -> Option<Node<'_>> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// The last segment of the callee (`from_pretrained`).
    pub fn method(&self) -> &str {
        self.callee.rsplit('.').next().unwrap_or(&self.callee)
    }
}
