//! Static pickle analyser: a symbolic stack machine over every opcode of protocols 0-5 that
//! resolves imports and reconstructs calls without importing or executing anything.

use crate::input::{Input, READ_WHOLE};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// Bytes of embedded zip archives kept per stream for the caller to scan.
const ARCHIVE_BUDGET: usize = 64 << 20;
/// Maximum number of memo entries kept; more is a memo bomb.
const MAX_MEMO: usize = 1 << 20;
/// Maximum stack depth.
const MAX_STACK: usize = 1 << 20;
/// Maximum number of open MARKs (each `(` pushes one; a stream of `(` is a memory bomb).
const MAX_MARKS: usize = 1 << 20;
/// Maximum number of live lists, sets and dicts tracked for cycle breaking.
const MAX_CONTAINERS: usize = 1 << 20;
/// Bytes of strings kept in full over a whole stream; past it, values keep their first
/// `MAX_NAME` bytes (enough for any import name).
const VALUE_BUDGET: usize = 64 << 20;
/// Bytes kept of a string once the value budget is spent.
const MAX_NAME: usize = 256;
/// Items kept per list/dict/set/tuple (the rest is counted, not stored).
const MAX_ITEMS: usize = 256;
/// Characters kept of a string value.
const MAX_STR: usize = 4096;
/// Nesting depth for pickles found inside bytes values.
const MAX_NESTED_DEPTH: u32 = 3;
/// Characters of a rendered call.
const RENDER_BUDGET: usize = 400;
/// Nesting of immutable values (tuples, calls) kept; deeper ones become unknown.
const MAX_VALUE_DEPTH: u32 = 200;
/// Imports recorded per stream (a benign checkpoint needs a handful).
const MAX_IMPORTS: usize = 100_000;
/// Callables whose first argument is a class they only allocate (`cls.__new__(cls)` or
/// `ndarray.__new__(subtype)`), never call with arguments of the pickle's choosing.
const ALLOCATORS: &[&str] = &[
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
];

/// Collect the globals inside a value (bounded by `depth` and `budget` nodes).
fn globals_in(v: &V, depth: u32, budget: &mut usize, out: &mut Vec<usize>) {
    if *budget == 0 || depth == 0 {
        return;
    }
    *budget -= 1;
    match v {
        V::Global(id) => out.push(*id),
        V::Tuple(items, _) => {
            for i in items.iter() {
                globals_in(i, depth - 1, budget, out);
            }
        }
        V::List(l) | V::Set(l) => {
            if let Ok(l) = l.try_borrow() {
                for i in l.iter() {
                    globals_in(i, depth - 1, budget, out);
                }
            }
        }
        V::Dict(d) => {
            if let Ok(d) = d.try_borrow() {
                for (k, val) in d.iter() {
                    globals_in(k, depth - 1, budget, out);
                    globals_in(val, depth - 1, budget, out);
                }
            }
        }
        V::Call(c) => globals_in(&c.func, depth - 1, budget, out),
        _ => {}
    }
}

/// One import (GLOBAL, STACK_GLOBAL, INST) made by the pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Module, Python 2 names mapped to Python 3.
    pub module: String,
    /// Qualified name inside the module (may contain dots with protocol 4).
    pub name: String,
    /// Offset of the importing opcode in the analysed buffer.
    pub offset: u64,
    /// The first reconstructed call of this import, e.g. `os.system("id")`.
    pub call: Option<String>,
    /// Set when the import is in a pickle nested inside a bytes value.
    pub nested: bool,
    /// The most the loader does with the imported object.
    pub usage: Usage,
}

/// What loading does with an imported object, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Usage {
    /// Only imported, stored as a value (a class kept in a dict, a dtype's type).
    #[default]
    Referenced,
    /// Instantiated without running its constructor: `NEWOBJ` with no arguments
    /// (`cls.__new__(cls)`) or `copyreg._reconstructor(cls, object, None)`, the way the pickler
    /// writes any plain class instance; the state is then set by BUILD.
    Instantiated,
    /// Called with arguments (REDUCE, INST, OBJ, NEWOBJ with arguments), or passed as an
    /// argument to a call (which may call it).
    Called,
}

impl Import {
    /// `module.name`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }
}

/// A problem other than an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The stream is broken at `offset`; what came before may already have run.
    Malformed {
        /// Offset of the failing opcode.
        offset: u64,
        /// What is wrong, lower case.
        message: String,
    },
    /// STACK_GLOBAL whose module or name is not a literal string (computed at load time).
    Unresolved {
        /// Offset of the opcode.
        offset: u64,
        /// Rendering of the operands.
        operands: String,
    },
    /// BUILD applied to an imported object itself: sets attributes (even `__code__`) on a module
    /// global, i.e. monkey-patches the loading process.
    GlobalMutation {
        /// Offset of the BUILD opcode.
        offset: u64,
        /// `target.__setstate__(state)` rendering.
        rendering: String,
    },
    /// A bytes value holding a zip archive (e.g. a torch checkpoint given to
    /// `torch.storage._load_from_bytes`), to be scanned as a container.
    EmbeddedArchive {
        /// Offset of the bytes in the analysed stream.
        offset: u64,
        /// Length of the bytes.
        len: u64,
        /// The bytes, when short enough to keep (else read again from the stream's source).
        data: Option<Vec<u8>>,
    },
    /// EXT1/EXT2/EXT4: import through the copyreg extension registry.
    Extension {
        /// Offset of the opcode.
        offset: u64,
        /// The extension code.
        code: u32,
    },
}

/// Result of analysing a pickle stream.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Imports in order of appearance.
    pub imports: Vec<Import>,
    /// Structural problems and dynamic imports.
    pub issues: Vec<Issue>,
    /// Number of pickles found one after another in the stream.
    pub pickles: usize,
    /// Opcodes executed symbolically.
    pub opcodes: u64,
    /// Highest protocol seen (PROTO opcode).
    pub protocol: u8,
    /// Bytes consumed by the recognised pickles (where the last STOP ended).
    pub end: u64,
    /// The analysis stopped because the data ended (inside a pickle, or where a further
    /// chained pickle could start): when the data is a prefix, the rest may matter.
    pub cut_short: bool,
    /// The reader failed: the stream was analysed up to the error only.
    pub read_error: Option<String>,
}

/// A symbolic value on the stack.
#[derive(Debug, Clone)]
enum V {
    None,
    Bool(bool),
    Int(i64),
    BigInt(usize),
    Float(f64),
    Str(Rc<str>),
    Bytes(usize, Rc<[u8]>),
    Tuple(Rc<Vec<V>>, u32),
    List(Rc<RefCell<Vec<V>>>),
    Dict(DictCell),
    Set(Rc<RefCell<Vec<V>>>),
    Global(usize),
    Call(Rc<CallV>),
    PersId(Rc<V>, u32),
    Ext(u32),
    Buffer,
    Unknown,
}

/// Shared, mutable dict contents (insertion order).
type DictCell = Rc<RefCell<Vec<(V, V)>>>;

#[derive(Debug)]
struct CallV {
    func: V,
    args: V,
    kind: CallKind,
    depth: u32,
}

/// Nesting depth of a value (mutable containers count as 1: they are emptied before being
/// freed, see `Drop for Machine`).
fn depth(v: &V) -> u32 {
    match v {
        V::Tuple(_, d) | V::PersId(_, d) => *d,
        V::Call(c) => c.depth,
        _ => 1,
    }
}

/// A tuple, or `Unknown` past the nesting limit (bounds recursion when freeing and rendering).
fn tuple(items: Vec<V>) -> V {
    let d = 1 + items.iter().map(depth).max().unwrap_or(0);
    if d > MAX_VALUE_DEPTH {
        V::Unknown
    } else {
        V::Tuple(Rc::new(items), d)
    }
}

fn mk_call(func: V, args: V, kind: CallKind) -> V {
    let d = 1 + depth(&func).max(depth(&args));
    if d > MAX_VALUE_DEPTH {
        V::Unknown
    } else {
        V::Call(Rc::new(CallV {
            func,
            args,
            kind,
            depth: d,
        }))
    }
}

fn persid(v: V) -> V {
    let d = 1 + depth(&v);
    if d > MAX_VALUE_DEPTH {
        V::Unknown
    } else {
        V::PersId(Rc::new(v), d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Call,
    New,
    Build,
}

/// A failure inside one pickle.
#[derive(Debug)]
struct Fail {
    offset: u64,
    message: String,
}

fn fail(offset: u64, message: impl Into<String>) -> Fail {
    Fail {
        offset,
        message: message.into(),
    }
}

/// Analyse `data` as a stream of pickles. Never executes anything.
pub fn analyse(data: &[u8]) -> Analysis {
    let mut r = data;
    analyse_reader(&mut r)
}

/// Analyse the pickles read from `reader` in bounded memory: the stream is read once, through a
/// buffer; long string and bytes values are skipped, keeping their first bytes (a pickle nested
/// in one is analysed as it is read). Reading stops where the pickles end. Never executes
/// anything.
pub fn analyse_reader(reader: &mut dyn std::io::Read) -> Analysis {
    let mut out = Analysis::default();
    let mut inp = Input::new(reader);
    analyse_into(&mut inp, 0, 0, &mut out);
    if let Some(e) = inp.take_error() {
        out.read_error = Some(e.to_string());
    }
    out
}

/// What the pickle VM makes of the first bytes of a blob (see [`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Opcodes the unpickler would accept, in order, before STOP or the end of the bytes.
    pub opcodes: u64,
    /// Imports among them.
    pub imports: usize,
    /// A STOP opcode ended the first pickle.
    pub stopped: bool,
    /// The stream starts with a PROTO opcode.
    pub proto_header: bool,
    /// An opcode the unpickler rejects came after the counted ones (what came before runs).
    pub broken: bool,
    /// Where the opcode the bytes ended in starts, when they ended before a STOP or an
    /// invalid opcode (the blob goes on: see `resume`).
    pub cut_at: Option<usize>,
}

/// Run the VM over `head`, the first bytes of a blob (`complete` when it is the whole blob):
/// how many opcodes the unpickler would accept in order, up to a STOP, an invalid opcode or the
/// end of `head`, whatever the protocol, name or extension. `None` when the very first opcode
/// is rejected or an import names no Python identifier (a text file that starts with `c`).
pub fn sniff(head: &[u8], complete: bool) -> Option<Prefix> {
    let mut scratch = Analysis::default();
    // Depth MAX_NESTED_DEPTH: pickles inside bytes values are not analysed while sniffing.
    let mut r = head;
    let mut inp = Input::new(&mut r);
    let mut m = Machine::new(&mut inp, 0, MAX_NESTED_DEPTH, &mut scratch);
    let r = m.run();
    let names_ok = m
        .imports
        .iter()
        .all(|i| is_identifier_path(&i.module) && is_identifier_path(&i.name));
    let broken = match &r {
        Ok(_) => false,
        Err(f) => complete || !f.message.starts_with("truncated"),
    };
    // The failing opcode itself was counted.
    let opcodes = if broken {
        m.opcodes.saturating_sub(1)
    } else {
        m.opcodes
    };
    let prefix = Prefix {
        opcodes,
        imports: m.imports.len(),
        stopped: r.is_ok(),
        proto_header: head.first() == Some(&0x80),
        broken,
        cut_at: (r.is_err() && !broken).then(|| usize::try_from(m.last_op).unwrap_or(usize::MAX)),
    };
    (names_ok && opcodes > 0).then_some(prefix)
}

fn analyse_into(inp: &mut Input<'_>, base: u64, depth: u32, out: &mut Analysis) {
    let mut first = true;
    loop {
        if !first {
            // A further pickle follows only when it starts with PROTO 2..5 (legacy torch files
            // chain five pickles so); otherwise the rest is data (raw storages).
            let next = inp.peek(2);
            match (next.first(), next.get(1)) {
                (Some(0x80), Some(p)) if (2..=5).contains(p) => {}
                // The bytes end where another pickle could start: a prefix is not enough.
                (None, _) | (Some(0x80), None) => {
                    out.cut_short = true;
                    break;
                }
                _ => break,
            }
        }
        let mut m = Machine::new(inp, base, depth, out);
        let r = m.run();
        let opcodes = m.opcodes;
        let imports = std::mem::take(&mut m.imports);
        let issues = std::mem::take(&mut m.issues);
        let proto = m.protocol;
        drop(m);
        out.opcodes += opcodes;
        out.protocol = out.protocol.max(proto);
        match r {
            Ok(end) => {
                out.imports.extend(imports);
                out.issues.extend(issues);
                out.pickles += 1;
                out.end = base + end;
                first = false;
            }
            Err(f) => {
                out.cut_short = f.message.starts_with("truncated");
                // The first pickle is reported even when broken: what came before the error
                // runs when the file is loaded. Later segments only when they import something
                // that looks like a Python name (else they are raw data that happened to
                // start like a pickle).
                let plausible = imports.iter().any(|i| is_identifier_path(&i.module));
                if first || plausible {
                    out.imports.extend(imports);
                    out.issues.extend(issues);
                    out.issues.push(Issue::Malformed {
                        offset: f.offset + base,
                        message: f.message,
                    });
                    out.pickles += 1;
                }
                break;
            }
        }
    }
}

/// Analyse a pickle nested in a bytes value that starts at `start` of a pickle at `depth`.
fn nested_pickle(sub_in: &mut Input<'_>, start: u64, depth: u32, nested: &mut Analysis) {
    let mut sub = Analysis::default();
    analyse_into(sub_in, start, depth + 1, &mut sub);
    nested.imports.extend(sub.imports);
    nested.issues.extend(sub.issues);
}

/// Whether bytes start with a PROTO 2..5 opcode (a pickle nested in a bytes value).
fn starts_pickle(b: &[u8]) -> bool {
    b.len() > 2 && b[0] == 0x80 && (2..=5).contains(&b[1])
}

fn is_identifier_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            let mut c = p.chars();
            matches!(c.next(), Some(ch) if ch == '_' || ch.is_ascii_alphabetic())
                && c.all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
        })
}

/// Map Python 2 module names to Python 3, as `fix_imports` does.
fn fix_module(m: &str) -> &str {
    match m {
        "__builtin__" | "exceptions" => "builtins",
        "copy_reg" => "copyreg",
        "cPickle" => "pickle",
        "commands" => "subprocess",
        "urllib2" => "urllib.request",
        "Tkinter" => "tkinter",
        "thread" => "_thread",
        "UserDict" => "collections",
        "StringIO" | "cStringIO" => "io",
        _ => m,
    }
}

struct Machine<'i, 'r, 'o> {
    inp: &'i mut Input<'r>,
    base: u64,
    depth: u32,
    stack: Vec<V>,
    marks: Vec<usize>,
    memo: HashMap<u64, V>,
    imports: Vec<Import>,
    issues: Vec<Issue>,
    opcodes: u64,
    protocol: u8,
    nested: &'o mut Analysis,
    /// Every list/set and dict created: emptied on drop so that reference cycles (a list
    /// appended to itself) are broken and nothing leaks.
    lists: Vec<Rc<RefCell<Vec<V>>>>,
    dicts: Vec<DictCell>,
    /// Bytes of string values kept so far (see `VALUE_BUDGET`).
    kept: usize,
    /// Where the opcode being run starts.
    last_op: u64,
    /// Bytes of embedded archives kept so far (see `ARCHIVE_BUDGET`).
    kept_archives: usize,
}

impl Drop for Machine<'_, '_, '_> {
    fn drop(&mut self) {
        for l in &self.lists {
            if let Ok(mut b) = l.try_borrow_mut() {
                b.clear();
            }
        }
        for d in &self.dicts {
            if let Ok(mut b) = d.try_borrow_mut() {
                b.clear();
            }
        }
    }
}

impl<'i, 'r, 'o> Machine<'i, 'r, 'o> {
    fn new(inp: &'i mut Input<'r>, base: u64, depth: u32, nested: &'o mut Analysis) -> Self {
        Machine {
            inp,
            base,
            depth,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            imports: Vec::new(),
            issues: Vec::new(),
            opcodes: 0,
            protocol: 0,
            nested,
            lists: Vec::new(),
            dicts: Vec::new(),
            kept: 0,
            last_op: 0,
            kept_archives: 0,
        }
    }

    fn list(&mut self, mut items: Vec<V>) -> Result<V, Fail> {
        items.truncate(MAX_ITEMS);
        let l = Rc::new(RefCell::new(items));
        self.track_list(l.clone())?;
        Ok(V::List(l))
    }

    fn set(&mut self, mut items: Vec<V>) -> Result<V, Fail> {
        items.truncate(MAX_ITEMS);
        let l = Rc::new(RefCell::new(items));
        self.track_list(l.clone())?;
        Ok(V::Set(l))
    }

    fn dict(&mut self) -> Result<V, Fail> {
        let d = Rc::new(RefCell::new(Vec::new()));
        if self.dicts.len() >= MAX_CONTAINERS {
            // Forget the containers nothing else holds any more (freed with their contents).
            self.dicts.retain(|d| Rc::strong_count(d) > 1);
            if self.dicts.len() >= MAX_CONTAINERS {
                return Err(fail(
                    self.inp.pos(),
                    format!("container limit reached ({MAX_CONTAINERS} live dicts)"),
                ));
            }
        }
        self.dicts.push(d.clone());
        Ok(V::Dict(d))
    }

    fn track_list(&mut self, l: Rc<RefCell<Vec<V>>>) -> Result<(), Fail> {
        if self.lists.len() >= MAX_CONTAINERS {
            self.lists.retain(|l| Rc::strong_count(l) > 1);
            if self.lists.len() >= MAX_CONTAINERS {
                return Err(fail(
                    self.inp.pos(),
                    format!("container limit reached ({MAX_CONTAINERS} live lists and sets)"),
                ));
            }
        }
        self.lists.push(l);
        Ok(())
    }

    /// A string value, kept whole while the stream's value budget lasts.
    fn text(&mut self, s: &str) -> V {
        let keep = if self.kept < VALUE_BUDGET {
            MAX_STR
        } else {
            MAX_NAME
        };
        let t = trunc(s, keep);
        self.kept = self.kept.saturating_add(t.len());
        V::Str(Rc::from(t.as_str()))
    }

    /// The error for an argument of `n` bytes that the stream ends inside.
    fn truncated(&mut self, n: u64) -> Fail {
        let at = self.inp.pos();
        let left = self.inp.skip(n);
        fail(at, format!("truncated: {n} bytes declared, {left} left"))
    }

    /// The next `n` bytes, read whole (`n` up to [`READ_WHOLE`]; longer arguments go through
    /// [`Machine::long_value`] or [`Machine::skip`]).
    fn take(&mut self, n: u64) -> Result<Vec<u8>, Fail> {
        let k = usize::try_from(n.min(READ_WHOLE)).unwrap_or(0);
        if n > READ_WHOLE {
            return Err(self.truncated(n));
        }
        match self.inp.consume(k) {
            Some(b) => Ok(b.to_vec()),
            None => Err(self.truncated(n)),
        }
    }

    /// Consume `n` bytes without keeping them.
    fn skip(&mut self, n: u64) -> Result<(), Fail> {
        let at = self.inp.pos();
        let got = self.inp.skip(n);
        if got < n {
            return Err(fail(
                at,
                format!("truncated: {n} bytes declared, {got} left"),
            ));
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, Fail> {
        match self.inp.consume(1) {
            Some(b) => Ok(b[0]),
            None => Err(self.truncated(1)),
        }
    }

    fn le(&mut self, n: usize) -> Result<u64, Fail> {
        let Some(b) = self.inp.consume(n) else {
            return Err(self.truncated(n as u64));
        };
        let mut v = 0u64;
        for (i, &x) in b.iter().enumerate() {
            v |= (x as u64) << (8 * i);
        }
        Ok(v)
    }

    fn line(&mut self) -> Result<Vec<u8>, Fail> {
        let at = self.inp.pos();
        match self.inp.line() {
            Some(mut l) => {
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                Ok(l)
            }
            None => Err(fail(at, "truncated: line without newline")),
        }
    }

    fn push(&mut self, v: V) -> Result<(), Fail> {
        if self.stack.len() >= MAX_STACK {
            return Err(fail(
                self.inp.pos(),
                format!("stack limit reached ({MAX_STACK} values)"),
            ));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self, at: u64) -> Result<V, Fail> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(fail(at, "stack underflow"));
        }
        self.stack.pop().ok_or_else(|| fail(at, "stack underflow"))
    }

    fn top(&mut self, at: u64) -> Result<&mut V, Fail> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(fail(at, "stack underflow"));
        }
        self.stack
            .last_mut()
            .ok_or_else(|| fail(at, "stack underflow"))
    }

    fn pop_mark(&mut self, at: u64) -> Result<Vec<V>, Fail> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| fail(at, "no mark on the stack"))?;
        let m = m.min(self.stack.len());
        Ok(self.stack.split_off(m))
    }

    fn import(&mut self, module: &str, name: &str, at: u64) -> V {
        let module = fix_module(module);
        if self.imports.len() >= MAX_IMPORTS {
            return V::Unknown;
        }
        self.imports.push(Import {
            module: trunc(module, 256),
            name: trunc(name, 256),
            offset: self.base + at,
            call: None,
            nested: self.depth > 0,
            usage: Usage::Referenced,
        });
        V::Global(self.imports.len() - 1)
    }

    fn call(&mut self, func: V, args: V, kind: CallKind) -> V {
        let v = mk_call(func, args, kind);
        let V::Call(c) = &v else { return v };
        self.note_usage(&c.func, &c.args, kind);
        if let V::Global(id) = c.func {
            if let Some(imp) = self.imports.get(id) {
                if imp.call.is_none() {
                    let text = self.render(&v);
                    if let Some(imp) = self.imports.get_mut(id) {
                        imp.call = Some(text);
                    }
                }
            }
        }
        v
    }

    fn mark(&mut self, v: &V, usage: Usage) {
        if let V::Global(id) = v {
            if let Some(imp) = self.imports.get_mut(*id) {
                imp.usage = imp.usage.max(usage);
            }
        }
    }

    /// Record how a call uses the globals it involves: the callee is called (or only
    /// instantiated), and every global among its arguments may be called by it, except the
    /// class argument of the reconstructors that only allocate an instance.
    fn note_usage(&mut self, func: &V, args: &V, kind: CallKind) {
        let no_args = matches!(args, V::Tuple(items, _) if items.is_empty());
        let usage = if kind == CallKind::New && no_args {
            Usage::Instantiated
        } else {
            Usage::Called
        };
        self.mark(func, usage);
        let items: &[V] = match args {
            V::Tuple(items, _) => items,
            other => std::slice::from_ref(other),
        };
        let allocator = match func {
            V::Global(id) => self
                .imports
                .get(*id)
                .is_some_and(|i| ALLOCATORS.contains(&format!("{}.{}", i.module, i.name).as_str())),
            _ => false,
        };
        let mut found = Vec::new();
        let mut budget = 64usize;
        for (i, a) in items.iter().enumerate() {
            if allocator && i == 0 && matches!(a, V::Global(_)) {
                self.mark(a, Usage::Instantiated);
                continue;
            }
            globals_in(a, 4, &mut budget, &mut found);
        }
        for id in found {
            self.mark(&V::Global(id), Usage::Called);
        }
    }

    fn render(&self, v: &V) -> String {
        let mut s = String::new();
        let mut budget = RENDER_BUDGET;
        render(v, &self.imports, &mut s, &mut budget, 0);
        if budget == 0 {
            s.push('…');
        }
        s
    }

    fn memo_put(&mut self, key: u64, at: u64) -> Result<(), Fail> {
        let v = self.top(at)?.clone();
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&key) {
            return Err(fail(at, "memo limit reached (memo bomb)"));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64, at: u64) -> Result<(), Fail> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| fail(at, format!("memo key {key} not defined")))?;
        self.push(v)
    }

    /// A string or bytes argument of `n` bytes: read whole when short, else skipped keeping its
    /// first bytes. Pickles nested inside (e.g. `torch.storage._load_from_bytes`, or a payload
    /// smuggled in a tensor) are analysed either way, and zip archives noted.
    fn value_bytes(&mut self, n: u64) -> Result<(Vec<u8>, u64), Fail> {
        let start = self.base + self.inp.pos();
        if n <= READ_WHOLE {
            let b = self.take(n)?;
            if self.depth < MAX_NESTED_DEPTH && starts_pickle(&b) {
                let mut r = &b[..];
                let mut sub_in = Input::new(&mut r);
                nested_pickle(&mut sub_in, start, self.depth, self.nested);
            }
            if b.starts_with(b"PK\x03\x04") {
                self.embedded(start, n, Some(&b));
            }
            return Ok((b, n));
        }
        let mut head = self.inp.peek(MAX_STR).to_vec();
        if self.depth < MAX_NESTED_DEPTH && starts_pickle(&head) {
            let at = self.inp.pos();
            let mut lim = std::io::Read::take(&mut *self.inp, n);
            let mut sub_in = Input::new(&mut lim);
            nested_pickle(&mut sub_in, start, self.depth, self.nested);
            drop(sub_in);
            let _ = std::io::copy(&mut lim, &mut std::io::sink());
            let got = self.inp.pos() - at;
            if got < n {
                return Err(fail(
                    at,
                    format!("truncated: {n} bytes declared, {got} left"),
                ));
            }
        } else {
            self.skip(n)?;
        }
        if head.starts_with(b"PK\x03\x04") {
            self.embedded(start, n, None);
        }
        head.truncate(MAX_STR);
        Ok((head, n))
    }

    /// Note a zip archive held in a bytes value (its bytes kept when at hand and within the
    /// stream's budget, for callers that cannot read the stream again).
    fn embedded(&mut self, offset: u64, len: u64, data: Option<&[u8]>) {
        let data = data.filter(|d| self.kept_archives.saturating_add(d.len()) <= ARCHIVE_BUDGET);
        if let Some(d) = data {
            self.kept_archives += d.len();
        }
        self.issues.push(Issue::EmbeddedArchive {
            offset,
            len,
            data: data.map(<[u8]>::to_vec),
        });
    }

    /// A bytes value (the first `MAX_STR` bytes of `b`, of `n` in all).
    fn bytes_v(b: &[u8], n: u64) -> V {
        let keep = b.len().min(MAX_STR);
        V::Bytes(
            usize::try_from(n).unwrap_or(usize::MAX),
            Rc::from(&b[..keep]),
        )
    }

    /// joblib writes the bytes of a NumPy array right after the BUILD of its
    /// `NumpyArrayWrapper` (outside the pickle format): skip them exactly as joblib's
    /// unpickler reads them, or analyse the nested pickle of an object array.
    fn joblib_array(&mut self, obj: &V, state: &V, at: u64) -> Result<(), Fail> {
        let V::Call(c) = obj else { return Ok(()) };
        let V::Global(id) = c.func else { return Ok(()) };
        let Some(imp) = self.imports.get(id) else {
            return Ok(());
        };
        if imp.name != "NumpyArrayWrapper" || !imp.module.ends_with("joblib.numpy_pickle") {
            return Ok(());
        }
        let V::Dict(d) = state else {
            return Err(fail(at, "joblib array wrapper without a state dict"));
        };
        let d = d.borrow();
        let get = |k: &str| {
            d.iter()
                .find(|(key, _)| matches!(key, V::Str(s) if &**s == k))
                .map(|(_, v)| v.clone())
        };
        let dtype = get("dtype").and_then(|v| dtype_code(&v));
        let Some(code) = dtype else {
            return Err(fail(at, "joblib array wrapper with an unreadable dtype"));
        };
        let padded = matches!(get("numpy_array_alignment_bytes"), Some(V::Int(_)));
        drop(d);
        if code.starts_with('O') || code.contains('O') {
            // Object arrays: a whole protocol 2 pickle follows, run by pickle.load.
            let mut sub = Machine::new(&mut *self.inp, self.base, self.depth, &mut *self.nested);
            let r = sub.run();
            let imports = std::mem::take(&mut sub.imports);
            let issues = std::mem::take(&mut sub.issues);
            self.opcodes += sub.opcodes;
            drop(sub);
            for mut i in imports {
                if self.imports.len() < MAX_IMPORTS {
                    i.nested = true;
                    self.imports.push(i);
                }
            }
            self.issues.extend(issues);
            r?;
            return Ok(());
        }
        let shape: Vec<i64> = match get_shape(&self.data_state_shape(state)) {
            Some(s) => s,
            None => return Err(fail(at, "joblib array wrapper without a shape")),
        };
        let itemsize = itemsize(&code)
            .ok_or_else(|| fail(at, format!("joblib array of unknown dtype `{code}`")))?;
        let count = shape
            .iter()
            .try_fold(1u64, |acc, &d| {
                u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
            })
            .ok_or_else(|| fail(at, "joblib array shape overflows"))?;
        if padded {
            let n = self.u8()?;
            self.skip(u64::from(n))?;
        }
        let bytes = count
            .checked_mul(itemsize)
            .ok_or_else(|| fail(at, "joblib array size overflows"))?;
        self.skip(bytes)?;
        Ok(())
    }

    fn data_state_shape(&self, state: &V) -> Option<V> {
        let V::Dict(d) = state else { return None };
        let d = d.borrow();
        d.iter()
            .find(|(k, _)| matches!(k, V::Str(s) if &**s == "shape"))
            .map(|(_, v)| v.clone())
    }

    /// Execute opcodes until STOP; returns the position after STOP.
    fn run(&mut self) -> Result<u64, Fail> {
        loop {
            let at = self.inp.pos();
            self.last_op = at;
            let op = match self.inp.consume(1) {
                Some(b) => b[0],
                None => return Err(fail(at, "truncated: no STOP opcode")),
            };
            self.opcodes += 1;
            match op {
                b'.' => {
                    return Ok(self.inp.pos());
                }
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return Err(fail(at, format!("unsupported protocol {p}")));
                    }
                    self.protocol = self.protocol.max(p);
                }
                0x95 => {
                    self.le(8)?;
                }
                b'(' => {
                    if self.marks.len() >= MAX_MARKS {
                        return Err(fail(
                            at,
                            format!("mark limit reached ({MAX_MARKS} open marks)"),
                        ));
                    }
                    self.marks.push(self.stack.len());
                }
                // POP on an empty frame above a mark drops the mark, as CPython's and
                // pickle.py's unpicklers do (a `(0` prefix must not hide what follows).
                b'0' => {
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop(at)?;
                    }
                }
                b'1' => {
                    self.pop_mark(at)?;
                }
                b'2' => {
                    let v = self.top(at)?.clone();
                    self.push(v)?;
                }
                0x97 => self.push(V::Buffer)?,
                0x98 => {
                    self.top(at)?;
                }
                b'F' | b'G' | b'I' | b'L' | b'J' | b'K' | b'M' | 0x8a | 0x8b | b'N' | 0x88
                | 0x89 => self.op_scalar(op, at)?,
                b'S' | b'T' | b'U' | b'B' | b'C' | 0x8e | 0x96 | b'V' | b'X' | 0x8c | 0x8d => {
                    self.op_text(op, at)?
                }
                b')'
                | b't'
                | 0x85..=0x87
                | b']'
                | b'l'
                | b'a'
                | b'e'
                | b'}'
                | b'd'
                | b's'
                | b'u'
                | 0x8f..=0x91 => self.op_container(op, at)?,
                b'p' | b'q' | b'r' | 0x94 | b'g' | b'h' | b'j' => self.op_memo(op, at)?,
                b'c'
                | 0x93
                | b'i'
                | b'o'
                | b'R'
                | 0x81
                | 0x92
                | b'b'
                | 0x82..=0x84
                | b'P'
                | b'Q' => self.op_call(op, at)?,
                other => {
                    return Err(fail(at, format!("unknown opcode 0x{other:02x}")));
                }
            }
        }
    }

    /// Numbers, booleans and None.
    fn op_scalar(&mut self, op: u8, at: u64) -> Result<(), Fail> {
        match op {
            b'F' => {
                let l = &self.line()?;
                let f = std::str::from_utf8(l)
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .ok_or_else(|| fail(at, "bad FLOAT literal"))?;
                self.push(V::Float(f))?;
            }
            b'G' => {
                let b = self.le(8)?;
                self.push(V::Float(f64::from_bits(b.swap_bytes())))?;
            }
            b'I' => {
                let l = &self.line()?;
                let v = match l.as_slice() {
                    b"01" => V::Bool(true),
                    b"00" => V::Bool(false),
                    _ => parse_int(l).ok_or_else(|| fail(at, "bad INT literal"))?,
                };
                self.push(v)?;
            }
            b'L' => {
                let l = &self.line()?;
                let l = l.strip_suffix(b"L").unwrap_or(l);
                let v = parse_int(l).ok_or_else(|| fail(at, "bad LONG literal"))?;
                self.push(v)?;
            }
            b'J' => {
                let v = self.le(4)? as u32 as i32;
                self.push(V::Int(v as i64))?;
            }
            b'K' => {
                let v = self.u8()?;
                self.push(V::Int(v as i64))?;
            }
            b'M' => {
                let v = self.le(2)?;
                self.push(V::Int(v as i64))?;
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.u8()? as u64
                } else {
                    let n = self.le(4)? as u32 as i32;
                    if n < 0 {
                        return Err(fail(at, "negative LONG4 length"));
                    }
                    n as u64
                };
                if n > 8 {
                    // Only the size of a big integer matters.
                    self.skip(n)?;
                    self.push(V::BigInt(usize::try_from(n).unwrap_or(usize::MAX)))?;
                    return Ok(());
                }
                let b = self.take(n)?;
                let v = if b.len() <= 8 {
                    let mut x: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        x |= (byte as i64) << (8 * i);
                    }
                    if let Some(&last) = b.last() {
                        if last & 0x80 != 0 && b.len() < 8 {
                            x -= 1i64 << (8 * b.len());
                        }
                    }
                    V::Int(x)
                } else {
                    V::BigInt(b.len())
                };
                self.push(v)?;
            }
            b'N' => self.push(V::None)?,
            0x88 => self.push(V::Bool(true))?,
            0x89 => self.push(V::Bool(false))?,
            other => return Err(fail(at, format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    /// Strings and bytes.
    fn op_text(&mut self, op: u8, at: u64) -> Result<(), Fail> {
        match op {
            b'S' => {
                let l = &self.line()?;
                let s = unquote(l).ok_or_else(|| fail(at, "bad STRING literal"))?;
                let v = self.text(&s);
                self.push(v)?;
            }
            b'T' | b'U' | b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'T' => {
                        let n = self.le(4)? as u32 as i32;
                        if n < 0 {
                            return Err(fail(at, "negative BINSTRING length"));
                        }
                        n as u64
                    }
                    b'U' | b'C' => self.u8()? as u64,
                    b'B' => self.le(4)?,
                    _ => self.le(8)?,
                };
                let (b, n) = self.value_bytes(n)?;
                let v = if matches!(op, b'T' | b'U') {
                    // Python 2 str: text for names, bytes otherwise.
                    match std::str::from_utf8(&b) {
                        Ok(s) => self.text(s),
                        Err(_) => Self::bytes_v(&b, n),
                    }
                } else {
                    Self::bytes_v(&b, n)
                };
                self.push(v)?;
            }
            b'V' => {
                let l = &self.line()?;
                let s = raw_unicode_escape(l);
                let v = self.text(&s);
                self.push(v)?;
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => self.le(4)?,
                    0x8c => self.u8()? as u64,
                    _ => self.le(8)?,
                };
                let (b, _) = self.value_bytes(n)?;
                let s = String::from_utf8_lossy(&b);
                let v = self.text(&s);
                self.push(v)?;
            }
            other => return Err(fail(at, format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    /// Tuples, lists, dicts and sets.
    fn op_container(&mut self, op: u8, at: u64) -> Result<(), Fail> {
        match op {
            b')' => self.push(tuple(Vec::new()))?,
            b't' => {
                let mut items = self.pop_mark(at)?;
                items.truncate(MAX_ITEMS);
                self.push(tuple(items))?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop(at)?);
                }
                items.reverse();
                self.push(tuple(items))?;
            }
            b']' => {
                let l = self.list(Vec::new())?;
                self.push(l)?;
            }
            b'l' => {
                let mut items = self.pop_mark(at)?;
                items.truncate(MAX_ITEMS);
                let l = self.list(items)?;
                self.push(l)?;
            }
            b'a' => {
                let v = self.pop(at)?;
                let l = self.top(at)?;
                append(l, vec![v]);
            }
            b'e' => {
                let items = self.pop_mark(at)?;
                let l = self.top(at)?;
                append(l, items);
            }
            b'}' => {
                let d = self.dict()?;
                self.push(d)?;
            }
            b'd' => {
                let items = self.pop_mark(at)?;
                let d = self.dict()?;
                let mut d2 = d.clone();
                set_items(&mut d2, items);
                self.push(d)?;
            }
            b's' => {
                let v = self.pop(at)?;
                let k = self.pop(at)?;
                let d = self.top(at)?;
                set_items(d, vec![k, v]);
            }
            b'u' => {
                let items = self.pop_mark(at)?;
                let d = self.top(at)?;
                set_items(d, items);
            }
            0x8f => {
                let st = self.set(Vec::new())?;
                self.push(st)?;
            }
            0x90 => {
                let items = self.pop_mark(at)?;
                let s = self.top(at)?;
                if let V::Set(s) = s {
                    let mut s = s.borrow_mut();
                    let room = MAX_ITEMS.saturating_sub(s.len());
                    s.extend(items.into_iter().take(room));
                }
            }
            0x91 => {
                let mut items = self.pop_mark(at)?;
                items.truncate(MAX_ITEMS);
                let st = self.set(items)?;
                self.push(st)?;
            }
            other => return Err(fail(at, format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    /// Memo PUT and GET.
    fn op_memo(&mut self, op: u8, at: u64) -> Result<(), Fail> {
        match op {
            b'p' => {
                let l = &self.line()?;
                let k = parse_u64(l).ok_or_else(|| fail(at, "bad PUT key"))?;
                self.memo_put(k, at)?;
            }
            b'q' => {
                let k = self.u8()? as u64;
                self.memo_put(k, at)?;
            }
            b'r' => {
                let k = self.le(4)?;
                self.memo_put(k, at)?;
            }
            0x94 => {
                let k = self.memo.len() as u64;
                self.memo_put(k, at)?;
            }
            b'g' => {
                let l = &self.line()?;
                let k = parse_u64(l).ok_or_else(|| fail(at, "bad GET key"))?;
                self.memo_get(k, at)?;
            }
            b'h' => {
                let k = self.u8()? as u64;
                self.memo_get(k, at)?;
            }
            b'j' => {
                let k = self.le(4)?;
                self.memo_get(k, at)?;
            }
            other => return Err(fail(at, format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    /// Imports, calls, BUILD, extensions and persistent ids.
    fn op_call(&mut self, op: u8, at: u64) -> Result<(), Fail> {
        match op {
            b'c' => {
                let module = String::from_utf8_lossy(&self.line()?).into_owned();
                let name = String::from_utf8_lossy(&self.line()?).into_owned();
                let g = self.import(&module, &name, at);
                self.push(g)?;
            }
            0x93 => {
                let name = self.pop(at)?;
                let module = self.pop(at)?;
                match (&module, &name) {
                    (V::Str(m), V::Str(n)) => {
                        let (m, n) = (m.clone(), n.clone());
                        let g = self.import(&m, &n, at);
                        self.push(g)?;
                    }
                    _ => {
                        let operands = format!(
                            "module={}, name={}",
                            self.render(&module),
                            self.render(&name)
                        );
                        self.issues.push(Issue::Unresolved {
                            offset: self.base + at,
                            operands,
                        });
                        self.push(V::Unknown)?;
                    }
                }
            }
            b'i' => {
                let module = String::from_utf8_lossy(&self.line()?).into_owned();
                let name = String::from_utf8_lossy(&self.line()?).into_owned();
                let items = self.pop_mark(at)?;
                let g = self.import(&module, &name, at);
                let v = self.call(g, tuple(items), CallKind::Call);
                self.push(v)?;
            }
            b'o' => {
                let mut items = self.pop_mark(at)?;
                if items.is_empty() {
                    return Err(fail(at, "OBJ without a class"));
                }
                let cls = items.remove(0);
                let v = self.call(cls, tuple(items), CallKind::Call);
                self.push(v)?;
            }
            b'R' => {
                let args = self.pop(at)?;
                let func = self.pop(at)?;
                let v = self.call(func, args, CallKind::Call);
                self.push(v)?;
            }
            0x81 => {
                let args = self.pop(at)?;
                let cls = self.pop(at)?;
                let v = self.call(cls, args, CallKind::New);
                self.push(v)?;
            }
            0x92 => {
                let kwargs = self.pop(at)?;
                let args = self.pop(at)?;
                let cls = self.pop(at)?;
                let v = self.call(cls, tuple(vec![args, kwargs]), CallKind::New);
                self.push(v)?;
            }
            b'b' => {
                let state = self.pop(at)?;
                let obj = self.pop(at)?;
                self.joblib_array(&obj, &state, at)?;
                if matches!(obj, V::Global(_)) {
                    let rendering =
                        self.render(&mk_call(obj.clone(), state.clone(), CallKind::Build));
                    self.issues.push(Issue::GlobalMutation {
                        offset: self.base + at,
                        rendering,
                    });
                }
                let v = mk_call(obj, state, CallKind::Build);
                self.push(v)?;
            }
            0x82..=0x84 => {
                let code = match op {
                    0x82 => self.u8()? as u32,
                    0x83 => self.le(2)? as u32,
                    _ => self.le(4)? as u32,
                };
                self.issues.push(Issue::Extension {
                    offset: self.base + at,
                    code,
                });
                self.push(V::Ext(code))?;
            }
            b'P' => {
                let l = &self.line()?;
                let s = String::from_utf8_lossy(l);
                let v = self.text(&s);
                self.push(persid(v))?;
            }
            b'Q' => {
                let pid = self.pop(at)?;
                self.push(persid(pid))?;
            }
            other => return Err(fail(at, format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }
}

/// The type code of a pickled `numpy.dtype(code, False, True)` (possibly after its BUILD).
fn dtype_code(v: &V) -> Option<String> {
    match v {
        V::Call(c) => match c.kind {
            CallKind::Build => dtype_code(&c.func),
            _ => match &c.args {
                V::Tuple(items, _) => match items.first() {
                    Some(V::Str(s)) => Some(s.to_string()),
                    _ => None,
                },
                _ => None,
            },
        },
        _ => None,
    }
}

fn get_shape(v: &Option<V>) -> Option<Vec<i64>> {
    match v {
        Some(V::Tuple(items, _)) => items
            .iter()
            .map(|x| match x {
                V::Int(i) => Some(*i),
                _ => None,
            })
            .collect(),
        Some(V::Int(i)) => Some(vec![*i]),
        _ => None,
    }
}

/// Bytes per element of a NumPy type code such as `f8`, `<i4`, `U5`, `b1`, `V24`, `M8`.
fn itemsize(code: &str) -> Option<u64> {
    let c = code.trim_start_matches(['<', '>', '|', '=']);
    let kind = c.chars().next()?;
    let digits: String = c[kind.len_utf8()..]
        .chars()
        .take_while(|ch| ch.is_ascii_digit())
        .collect();
    let n: u64 = if digits.is_empty() {
        match kind {
            '?' | 'b' | 'B' => 1,
            'h' | 'H' | 'e' => 2,
            'i' | 'I' | 'l' | 'f' => 4,
            'q' | 'Q' | 'd' | 'L' => 8,
            'g' | 'F' => 16,
            'D' => 16,
            _ => return None,
        }
    } else {
        digits.parse().ok()?
    };
    Some(if kind == 'U' { n * 4 } else { n })
}

fn append(target: &mut V, items: Vec<V>) {
    match target {
        V::List(l) | V::Set(l) => {
            let mut l = l.borrow_mut();
            let room = MAX_ITEMS.saturating_sub(l.len());
            l.extend(items.into_iter().take(room));
        }
        // `extend`/`append` on any other object is a method call on it: keep it visible.
        other => {
            let prev = std::mem::replace(other, V::Unknown);
            *other = mk_call(
                prev,
                tuple(items.into_iter().take(MAX_ITEMS).collect()),
                CallKind::Build,
            );
        }
    }
}

fn set_items(target: &mut V, items: Vec<V>) {
    if let V::Dict(d) = target {
        let mut d = d.borrow_mut();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if d.len() >= MAX_ITEMS {
                break;
            }
            d.push((k, v));
        }
    }
}

fn trunc(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn parse_u64(l: &[u8]) -> Option<u64> {
    std::str::from_utf8(l).ok()?.trim().parse().ok()
}

fn parse_int(l: &[u8]) -> Option<V> {
    let s = std::str::from_utf8(l).ok()?.trim();
    if s.is_empty() {
        return None;
    }
    match s.parse::<i64>() {
        Ok(v) => Some(V::Int(v)),
        Err(_) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then_some(V::BigInt(digits.len()))
        }
    }
}

/// Decode a protocol 0 STRING operand: a Python repr in single or double quotes.
fn unquote(l: &[u8]) -> Option<String> {
    let q = *l.first()?;
    if (q != b'\'' && q != b'"') || l.len() < 2 || *l.last()? != q {
        return None;
    }
    let inner = &l[1..l.len() - 1];
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c == b'\\' && i + 1 < inner.len() {
            let e = inner[i + 1];
            i += 2;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'0' => out.push(0),
                b'x' => {
                    let h = inner
                        .get(i..i + 2)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    if let Some(b) = h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        out.push(b);
                        i += 2;
                    }
                }
                other => out.push(other),
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Decode a protocol 0 UNICODE operand (raw-unicode-escape).
fn raw_unicode_escape(l: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < l.len() {
        if l[i] == b'\\' && matches!(l.get(i + 1), Some(b'u') | Some(b'U')) {
            let n = if l[i + 1] == b'u' { 4 } else { 8 };
            let h = l
                .get(i + 2..i + 2 + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32);
            if let Some(c) = h {
                out.push(c);
                i += 2 + n;
                continue;
            }
        }
        out.push(l[i] as char);
        i += 1;
    }
    out
}

fn render(v: &V, imports: &[Import], s: &mut String, budget: &mut usize, depth: u32) {
    if *budget == 0 {
        return;
    }
    let start = s.len();
    if depth > 12 {
        s.push('…');
    } else {
        match v {
            V::None => s.push_str("None"),
            V::Bool(b) => s.push_str(if *b { "True" } else { "False" }),
            V::Int(i) => {
                let _ = write!(s, "{i}");
            }
            V::BigInt(n) => {
                let _ = write!(s, "<int of {n} bytes>");
            }
            V::Float(f) => {
                let _ = write!(s, "{f}");
            }
            V::Str(t) => {
                let _ = write!(s, "{:?}", &**t);
            }
            V::Bytes(n, b) => {
                if let Ok(t) = std::str::from_utf8(b) {
                    let _ = write!(s, "b{t:?}");
                } else {
                    let _ = write!(s, "<{n} bytes>");
                }
            }
            V::Tuple(items, _) => {
                s.push('(');
                render_seq(items.iter(), imports, s, budget, depth);
                if items.len() == 1 {
                    s.push(',');
                }
                s.push(')');
            }
            V::List(items) | V::Set(items) => {
                let open = matches!(v, V::List(_));
                s.push(if open { '[' } else { '{' });
                if let Ok(items) = items.try_borrow() {
                    render_seq(items.iter(), imports, s, budget, depth);
                }
                s.push(if open { ']' } else { '}' });
            }
            V::Dict(d) => {
                s.push('{');
                if let Ok(d) = d.try_borrow() {
                    for (i, (k, val)) in d.iter().enumerate() {
                        if i > 0 {
                            s.push_str(", ");
                        }
                        render(k, imports, s, budget, depth + 1);
                        s.push_str(": ");
                        render(val, imports, s, budget, depth + 1);
                        if *budget == 0 {
                            break;
                        }
                    }
                }
                s.push('}');
            }
            V::Global(id) => match imports.get(*id) {
                Some(i) => {
                    let _ = write!(s, "{}.{}", i.module, i.name);
                }
                None => s.push_str("<global>"),
            },
            V::Call(c) => {
                match c.kind {
                    CallKind::Build => {
                        render(&c.func, imports, s, budget, depth + 1);
                        s.push_str(".__setstate__(");
                        render(&c.args, imports, s, budget, depth + 1);
                        s.push(')');
                    }
                    CallKind::Call | CallKind::New => {
                        render(&c.func, imports, s, budget, depth + 1);
                        // Arguments of a call are a tuple: print them as an argument list.
                        match &c.args {
                            V::Tuple(items, _) => {
                                s.push('(');
                                render_seq(items.iter(), imports, s, budget, depth);
                                s.push(')');
                            }
                            other => {
                                s.push_str("(*");
                                render(other, imports, s, budget, depth + 1);
                                s.push(')');
                            }
                        }
                    }
                }
            }
            V::PersId(p, _) => {
                s.push_str("persistent_load(");
                render(p, imports, s, budget, depth + 1);
                s.push(')');
            }
            V::Ext(code) => {
                let _ = write!(s, "<extension {code}>");
            }
            V::Buffer => s.push_str("<out-of-band buffer>"),
            V::Unknown => s.push_str("<unknown>"),
        }
    }
    let used = s.len() - start;
    if used >= *budget {
        // Cut at a char boundary within the budget.
        let mut end = start + *budget;
        while end > start && !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        *budget = 0;
    } else {
        *budget -= used;
    }
}

fn render_seq<'v>(
    items: impl Iterator<Item = &'v V>,
    imports: &[Import],
    s: &mut String,
    budget: &mut usize,
    depth: u32,
) {
    for (i, it) in items.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        render(it, imports, s, budget, depth + 1);
        if *budget == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(a: &Analysis) -> Vec<String> {
        a.imports.iter().map(Import::full_name).collect()
    }

    #[test]
    fn protocol0_global_reduce_is_rendered() {
        let p = b"cos\nsystem\n(S'id'\ntR.";
        let a = analyse(p);
        assert_eq!(names(&a), vec!["os.system"]);
        assert_eq!(a.imports[0].call.as_deref(), Some("os.system(\"id\")"));
        assert!(a.issues.is_empty());
        assert_eq!(a.pickles, 1);
    }

    #[test]
    fn stack_global_from_memo_is_resolved() {
        // proto 4: push "os", memoize, push "system", memoize, pop both, get them back from memo.
        let mut p = vec![0x80, 4, 0x8c, 2];
        p.extend_from_slice(b"os");
        p.push(0x94);
        p.push(0x8c);
        p.push(6);
        p.extend_from_slice(b"system");
        p.push(0x94);
        p.extend_from_slice(b"00"); // POP, POP
        p.extend_from_slice(&[b'h', 0, b'h', 1, 0x93]);
        p.extend_from_slice(&[0x8c, 2]);
        p.extend_from_slice(b"ls");
        p.extend_from_slice(&[0x85, b'R', b'.']);
        let a = analyse(&p);
        assert_eq!(names(&a), vec!["os.system"]);
        assert_eq!(a.imports[0].call.as_deref(), Some("os.system(\"ls\")"));
    }

    #[test]
    fn broken_tail_keeps_imports_before_the_error() {
        let p = b"cos\nsystem\n(S'id'\ntR\xff";
        let a = analyse(p);
        assert_eq!(names(&a), vec!["os.system"]);
        assert!(matches!(a.issues[0], Issue::Malformed { offset: 20, .. }));
    }

    #[test]
    fn python2_builtins_are_mapped() {
        let a = analyse(b"c__builtin__\neval\n(S'1'\ntR.");
        assert_eq!(names(&a), vec!["builtins.eval"]);
    }

    #[test]
    fn unresolved_stack_global_is_an_issue() {
        // module comes from a call result, not a literal
        let p = b"\x80\x04cbuiltins\nstr\n)R\x8c\x06system\x93.";
        let a = analyse(p);
        assert!(matches!(a.issues[0], Issue::Unresolved { .. }));
    }

    #[test]
    fn huge_declared_length_is_malformed_not_allocated() {
        let p = b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f";
        let a = analyse(p);
        assert!(matches!(a.issues[0], Issue::Malformed { .. }));
    }

    #[test]
    fn nested_pickle_in_bytes_is_analysed() {
        let inner = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
        let mut p = vec![0x80, 3, b'C', inner.len() as u8];
        p.extend_from_slice(inner);
        p.push(b'.');
        let a = analyse(&p);
        assert_eq!(names(&a), vec!["posix.system"]);
        assert!(a.imports[0].nested);
        assert_eq!(a.imports[0].offset, 4 + 2);
    }

    #[test]
    fn chained_pickles_are_all_read() {
        let mut p = b"\x80\x02K\x01.".to_vec();
        p.extend_from_slice(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.");
        let a = analyse(&p);
        assert_eq!(a.pickles, 2);
        assert_eq!(names(&a), vec!["os.system"]);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // 300k nested 1-tuples and 300k nested persistent ids: freed without recursion blowup.
        let mut p = b"\x80\x02N".to_vec();
        p.extend(std::iter::repeat_n(0x85u8, 300_000));
        p.extend(std::iter::repeat_n(b'Q', 300_000));
        p.push(b'.');
        let a = analyse(&p);
        assert!(a.issues.is_empty(), "{:?}", a.issues);
        // Deeply chained lists (each appended into the previous) and a list holding itself.
        let mut p = b"\x80\x02]".to_vec();
        for k in 1u32..100_000 {
            p.push(b']');
            p.push(b'r');
            p.extend_from_slice(&k.to_le_bytes());
            p.extend_from_slice(b"a0j");
            p.extend_from_slice(&k.to_le_bytes());
        }
        p.push(b'.');
        let a = analyse(&p);
        assert!(a.issues.is_empty(), "{:?}", a.issues);
        assert_eq!(a.pickles, 1);
        let a = analyse(b"\x80\x02]q\x00h\x00acos\nsystem\nh\x00\x85R.");
        assert!(a.imports[0]
            .call
            .as_deref()
            .unwrap_or("")
            .starts_with("os.system([["));
    }

    #[test]
    fn memo_get_of_undefined_key_is_malformed() {
        let a = analyse(b"\x80\x02h\x05.");
        assert!(
            matches!(&a.issues[0], Issue::Malformed { message, .. } if message.contains("memo"))
        );
    }

    fn usage_of(a: &Analysis, full: &str) -> Usage {
        a.imports
            .iter()
            .filter(|i| i.full_name() == full)
            .map(|i| i.usage)
            .max()
            .unwrap()
    }

    #[test]
    fn usage_tells_calls_from_instances_and_references() {
        // NEWOBJ with no arguments: allocated, not called.
        let a = analyse(b"\x80\x02cmypkg\nNet\n)\x81}b.");
        assert_eq!(usage_of(&a, "mypkg.Net"), Usage::Instantiated);
        // NEWOBJ with arguments and REDUCE: called.
        let a = analyse(b"\x80\x02cmypkg\nNet\nK\x01\x85\x81.");
        assert_eq!(usage_of(&a, "mypkg.Net"), Usage::Called);
        let a = analyse(b"\x80\x02cmypkg\nbuild\n)R.");
        assert_eq!(usage_of(&a, "mypkg.build"), Usage::Called);
        // Only stored in a dict: referenced.
        let a = analyse(b"\x80\x02}X\x01\x00\x00\x00kcmypkg\nNet\ns.");
        assert_eq!(usage_of(&a, "mypkg.Net"), Usage::Referenced);
        // Passed as an argument to a call, which may call it.
        let a = analyse(b"\x80\x02ccollections\ndefaultdict\ncmypkg\nfactory\n\x85R.");
        assert_eq!(usage_of(&a, "mypkg.factory"), Usage::Called);
        // Protocol 0/1 plain object: copyreg._reconstructor(cls, object, None) allocates cls.
        let a = analyse(b"ccopy_reg\n_reconstructor\n(cmypkg\nNet\nc__builtin__\nobject\nNtR.");
        assert_eq!(usage_of(&a, "mypkg.Net"), Usage::Instantiated);
        // ... but a base other than object is called with the state.
        let a = analyse(b"ccopy_reg\n_reconstructor\n(cmypkg\nNet\ncmypkg\nBase\nS'x'\ntR.");
        assert_eq!(usage_of(&a, "mypkg.Base"), Usage::Called);
    }

    fn malformed_message(a: &Analysis) -> String {
        a.issues
            .iter()
            .find_map(|i| match i {
                Issue::Malformed { message, .. } => Some(message.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn every_stack_is_bounded_with_a_malformed_issue() {
        // MARK stack
        let mut p = b"\x80\x02".to_vec();
        p.extend(std::iter::repeat_n(b'(', MAX_MARKS + 10));
        let a = analyse(&p);
        assert!(malformed_message(&a).contains("mark limit"), "{a:?}");
        // live containers (each list stays on the stack)
        let mut p = b"\x80\x02".to_vec();
        p.extend(std::iter::repeat_n(b']', MAX_CONTAINERS + 10));
        let a = analyse(&p);
        assert!(malformed_message(&a).contains("container limit"), "{a:?}");
        // dead containers are pruned, not counted: EMPTY_DICT, POP, over and over
        let mut p = b"\x80\x02".to_vec();
        for _ in 0..(MAX_CONTAINERS + 10) {
            p.extend_from_slice(b"}0");
        }
        p.extend_from_slice(b"N.");
        let a = analyse(&p);
        assert!(a.issues.is_empty(), "{:?}", a.issues);
        // value stack
        let mut p = b"\x80\x02".to_vec();
        p.extend(std::iter::repeat_n(b'N', MAX_STACK + 10));
        let a = analyse(&p);
        assert!(malformed_message(&a).contains("stack limit"), "{a:?}");
    }

    #[test]
    fn cut_short_says_whether_a_prefix_decided_everything() {
        // ends inside a pickle
        assert!(analyse(b"\x80\x02]q\x00").cut_short);
        // ends right after STOP: a chained pickle could follow
        assert!(analyse(b"\x80\x02N.").cut_short);
        assert!(analyse(b"\x80\x02N.\x80").cut_short);
        // raw data after the pickles (legacy torch storages): decided
        assert!(!analyse(b"\x80\x02N.\x00\x01\x02").cut_short);
        // an invalid opcode: decided
        assert!(!analyse(b"\x80\x02N\xff").cut_short);
    }
}
