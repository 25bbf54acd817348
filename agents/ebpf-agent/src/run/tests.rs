//! Unit tests of `run`: section names, alternatives, `--set`, printk matching, verifier logs,
//! the ELF checks and record decoding, against the examples as the build compiled them.

use super::*;
use crate::tools::testutil::written;
use agent_core::hooks::HookBuf;

/// An example object as the build compiled it (target/<profile>/bpf-examples).
fn example(name: &str) -> Vec<u8> {
    let p = format!("{}/{name}.bpf.o", env!("EBPF_AGENT_EXAMPLES"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn open(name: &str) -> (Object, Types) {
    let obj = Object::open_image(name, example(name)).unwrap();
    let t = obj.btf_types().unwrap().unwrap();
    (obj, t)
}

fn tp(c: &str, n: &str) -> HookBuf {
    Hook::Tracepoint(c.into(), n.into())
}

#[test]
fn section_names_as_libbpf_reads_them() {
    let h = |s: &str| sections::hook_of("p", s, 49);
    let readline = |ret| Hook::Uprobe {
        path: "/usr/bin/bash".into(),
        func: "readline".into(),
        ret,
        pid: None,
    };
    for (section, hook) in [
        (
            "tracepoint/syscalls/sys_enter_openat",
            tp("syscalls", "sys_enter_openat"),
        ),
        (
            "tp/sched/sched_process_exec",
            tp("sched", "sched_process_exec"),
        ),
        ("kprobe/tcp_sendmsg", Hook::Kprobe("tcp_sendmsg".into())),
        ("kretprobe/vfs_read", Hook::Kretprobe("vfs_read".into())),
        ("fentry/do_unlinkat", Hook::Fentry("do_unlinkat".into())),
        ("fexit/do_unlinkat", Hook::Fexit("do_unlinkat".into())),
        ("uretprobe//usr/bin/bash:readline", readline(true)),
        ("uprobe/usr/bin/bash:readline", readline(false)),
        (
            "perf_event",
            Hook::CpuClock {
                freq: 49,
                pid: None,
            },
        ),
    ] {
        assert_eq!(h(section).unwrap(), hook, "{section}");
    }
    assert!(matches!(h("raw_tp/sched_switch").unwrap(), Hook::RawTp(_, n) if n == "sched_switch"));
    assert!(matches!(h("tp_btf/sched_switch").unwrap(), Hook::TpBtf(_, n) if n == "sched_switch"));
    assert!(matches!(h("ksyscall/execve").unwrap(), Hook::Kprobe(f) if f.ends_with("sys_execve")));
    for bad in [
        "xdp",
        "tc",
        "tracepoint/nocategory",
        "kprobe/f+0x10",
        "kprobe/",
        "uprobe/bash",
        "lsm/file_open",
        "raw_tp/",
    ] {
        let e = h(bad).unwrap_err();
        assert_eq!(e.exit_code, 2, "{bad}");
        assert!(
            e.hint_text().unwrap().contains("tracepoint/CAT/NAME"),
            "{bad}"
        );
    }
    assert_eq!(sections::parse_perf("cpu-clock:99").unwrap(), 99);
    for bad in [
        "cpu-clock",
        "cycles:99",
        "cpu-clock:0",
        "cpu-clock:1000000",
        "cpu-clock:x",
    ] {
        assert_eq!(sections::parse_perf(bad).unwrap_err().exit_code, 2, "{bad}");
    }
}

/// A kernel with exactly these hooks.
struct Has(Vec<HookBuf>);
impl Kernel for Has {
    fn missing(&self, hook: &HookBuf) -> Option<String> {
        (!self.0.contains(hook)).then(|| format!("no {}", hook.describe()))
    }
}

fn progs(list: &[(&str, &str)]) -> Vec<sections::Prog> {
    let l: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    sections::programs(&l, 49).unwrap()
}

#[test]
fn required_optional_and_alternative_programs() {
    let p = progs(&[
        ("send__tp", "tracepoint/sock/sock_send_length"),
        ("send__kprobe", "kprobe/tcp_sendmsg"),
        ("opens", "tracepoint/syscalls/sys_enter_openat"),
        ("open", "?tracepoint/syscalls/sys_enter_open"),
    ]);
    assert!(p[3].optional && !p[2].optional);
    let names = |c: &sections::Chosen| c.plan.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    // A kernel with everything: the first alternative, the optional program too.
    let all = Has(vec![
        tp("sock", "sock_send_length"),
        Hook::Kprobe("tcp_sendmsg".into()),
        tp("syscalls", "sys_enter_openat"),
        tp("syscalls", "sys_enter_open"),
    ]);
    let c = sections::choose(&p, &all).unwrap();
    assert_eq!(names(&c), ["send__tp", "opens", "open"]);
    assert_eq!(c.left_out.len(), 1);
    // An older kernel: the kprobe; an arm64 one: no open(2).
    let old = Has(vec![
        Hook::Kprobe("tcp_sendmsg".into()),
        tp("syscalls", "sys_enter_openat"),
    ]);
    let c = sections::choose(&p, &old).unwrap();
    assert_eq!(names(&c), ["send__kprobe", "opens"]);
    // Neither alternative: an error naming both reasons, exit 3.
    let none = Has(vec![tp("syscalls", "sys_enter_openat")]);
    let e = sections::choose(&p, &none).unwrap_err();
    assert_eq!(e.exit_code, 3);
    assert!(
        e.message().contains("send__tp") && e.message().contains("kprobe tcp_sendmsg"),
        "{}",
        e.message()
    );
    // A required program this kernel lacks: exit 3 with the fix.
    let p = progs(&[("f", "fentry/do_unlinkat")]);
    let e = sections::choose(&p, &Has(vec![])).unwrap_err();
    assert_eq!(e.exit_code, 3);
    assert!(e.hint_text().unwrap().contains("SEC(\"?...\")"));
    // Only optional programs, none there: nothing to run is an error too.
    let p = progs(&[("f", "?fentry/do_unlinkat")]);
    assert_eq!(sections::choose(&p, &Has(vec![])).unwrap_err().exit_code, 3);
    let e = sections::programs(&[], 49).unwrap_err();
    assert_eq!(e.exit_code, 2);
}

#[test]
fn set_is_typed_by_btf() {
    let (mut obj, t) = open("shadow");
    let rodata = obj.section_data_mut(".rodata").unwrap();
    assert_eq!(
        set::settable(&t),
        [("target".to_string(), "char[64]".to_string())]
    );
    set::apply(&t, rodata, &["target=/etc/passwd".into()]).unwrap();
    assert!(rodata.starts_with(b"/etc/passwd\0\0"));
    let long = format!("target={}", "x".repeat(64));
    let e = set::apply(&t, rodata, &[long]).unwrap_err();
    assert!(e.message().contains("at most 63 bytes"), "{}", e.message());
    let e = set::apply(&t, rodata, &["nope=1".into()]).unwrap_err();
    assert_eq!(e.exit_code, 2);
    assert!(
        e.hint_text().unwrap().contains("target (char[64])"),
        "{:?}",
        e.hint_text()
    );
    assert_eq!(
        set::apply(&t, rodata, &["target".into()])
            .unwrap_err()
            .exit_code,
        2
    );

    let (mut obj, t) = open("syscalls");
    let rodata = obj.section_data_mut(".rodata").unwrap();
    set::apply(&t, rodata, &["target_pid=0x1234".into()]).unwrap();
    assert_eq!(&rodata[..4], &0x1234u32.to_le_bytes());
    set::apply(&t, rodata, &["target_pid=4294967295".into()]).unwrap();
    assert_eq!(&rodata[..4], &[0xff; 4]);
    for bad in [
        "target_pid=-1",
        "target_pid=4294967296",
        "target_pid=12x",
        "target_pid=",
    ] {
        let e = set::apply(&t, rodata, &[bad.into()]).unwrap_err();
        assert_eq!(e.exit_code, 2, "{bad}");
        assert!(e.message().contains("target_pid"), "{}", e.message());
    }
}

#[test]
fn printk_lines_are_matched_against_the_formats() {
    let p = printk::compile("Hello, eBPF! exec %s\n");
    assert!(printk::matches(&p, "Hello, eBPF! exec /bin/true"));
    assert!(printk::matches(&p, "Hello, eBPF! exec "));
    assert!(!printk::matches(&p, "Hello, world"));
    let p = printk::compile("pid %-6d sent %llu bytes to %pI4 (100%%)");
    assert!(printk::matches(
        &p,
        "pid 12     sent 5 bytes to 10.0.0.1 (100%)"
    ));
    assert!(!printk::matches(&p, "pid 12 sent 5 bytes to 10.0.0.1"));
    let line =
        "           <...>-4242    [003] d..31  5332.855710: bpf_trace_printk: Hello, eBPF! exec x";
    let l = printk::parse_line(line).unwrap();
    assert_eq!(
        (l.comm, l.pid, l.cpu, l.msg),
        ("<...>", 4242, 3, "Hello, eBPF! exec x")
    );
    let l =
        printk::parse_line("my-prog-name-77 (  77) [000] .... 1.0: bpf_trace_printk: hi").unwrap();
    assert_eq!((l.comm, l.pid), ("my-prog-name", 77));
    assert!(printk::parse_line("sh-1 [000] .... 1.0: sched_switch: x").is_none());
    // The hello example keeps its format in .rodata, where run finds it.
    let (mut obj, t) = open("hello");
    let f = printk::formats(&t, &rodata_sections(&mut obj));
    assert_eq!(f, ["Hello, eBPF! exec %s"]);
    assert!(obj.calls_helper("hello", printk::HELPERS));
    let (obj, _) = open("syscalls");
    assert!(!obj.calls_helper("count_syscalls", printk::HELPERS));
}

#[test]
fn verifier_logs_in_words() {
    let log = "func#0 @0\n0: R1=ctx() R10=fp0\n; int x = 0; @ t.bpf.c:10\n0: (b7) r1 = 0\n\
               ; *p += 1; @ t.bpf.c:12\n6: (79) r1 = *(u64 *)(r0 +0)\n\
               R0 invalid mem access 'map_value_or_null'\n\
               processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0\n";
    let r = verifier::parse(log);
    assert_eq!(r.error, "R0 invalid mem access 'map_value_or_null'");
    assert_eq!(r.insn.as_deref(), Some("6: (79) r1 = *(u64 *)(r0 +0)"));
    assert_eq!(r.source.as_deref(), Some("*p += 1; @ t.bpf.c:12"));
    assert!(verifier::hint(&r).0.unwrap().contains("NULL"));
    let r = verifier::parse("0: (b7) r0 = 0\ninvalid access to map value, value_size=8 off=8 size=8\nR0 min value is outside of the allowed memory range\nprocessed 3 insns\n");
    assert!(
        r.error.starts_with("invalid access to map value") && r.error.contains("; R0 min"),
        "{}",
        r.error
    );
    assert!(verifier::hint(&r)
        .0
        .unwrap()
        .contains("bpf_probe_read_kernel"));
    let r = verifier::parse("back-edge from insn 12 to 8\nprocessed 20 insns\n");
    assert!(verifier::hint(&r).0.unwrap().contains("loop"));
    let r = verifier::parse(
        "9: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation <byte_off> [7] struct sock.sk_nope (0:9 @ offset 48)\nprocessed 10 insns\n",
    );
    assert!(
        verifier::hint(&r).0.unwrap().contains("board's BTF"),
        "{r:?}"
    );
    let r = verifier::parse("5: (85) call bpf_no_such#999\nunknown func bpf_no_such#999\n");
    assert_eq!(verifier::hint(&r).1, 3);
    let e = verifier::explain(
        Error::new("x: loading the BPF programs failed (the verifier rejected program f)")
            .detail(log.to_string()),
        "t.bpf.o",
    );
    assert!(e
        .message()
        .starts_with("t.bpf.o: the verifier rejected program f: R0 invalid mem access"));
    assert!(e.message().contains("t.bpf.c:12"), "{}", e.message());
    assert_eq!(e.exit_code, 1);
}

#[test]
fn files_that_are_no_bpf_object() {
    let good = example("opens");
    elf::check(&good, "f").unwrap();
    let msg = |b: &[u8]| elf::check(b, "f").unwrap_err().message().to_string();
    assert!(msg(b"").contains("empty"));
    assert!(msg(b"#include \"kernel.h\"\n").contains("C source"));
    assert!(msg(b"hello world, not elf").contains("not an ELF object"));
    assert!(msg(&good[..40]).contains("truncated"));
    assert!(msg(&good[..good.len() / 2]).contains("truncated"));
    let mut x86 = good.clone();
    x86[18..20].copy_from_slice(&62u16.to_le_bytes());
    assert!(msg(&x86).contains("x86-64, not BPF"), "{}", msg(&x86));
    let mut be = good.clone();
    be[5] = 2;
    assert!(msg(&be).contains("big-endian"));
    assert_eq!(elf::check(&be, "f").unwrap_err().exit_code, 2);
    // The registers an object was compiled for: the examples that probe, built for here.
    let (_, t) = open("tcpsend");
    assert_eq!(elf::regs_arch(&t), Some(elf::native_arch()));
}

#[test]
fn records_decode_by_the_type_the_object_names() {
    let (_, t) = open("opens");
    let ev = record_type(&t, "events").unwrap();
    assert_eq!(t.describe(ev), "struct event");
    let (_, t) = open("shadow");
    let al = record_type(&t, "alerts").unwrap();
    assert_eq!(t.describe(al), "struct alert");
    let ring = Ring::new(&t, "alerts");
    let cols: Vec<&str> = ring.cols.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(cols, ["pid", "uid", "comm", "filename"]);
    let mut run = Run {
        file: "shadow.bpf.o".into(),
        types: t,
        progs: Vec::new(),
        rings: vec![ring],
        maps: Vec::new(),
        map_interval: None,
        notes: Vec::new(),
        json: true,
        printk: None,
        pipe: None,
    };
    let mut rec = vec![0u8; 88];
    rec[..4].copy_from_slice(&42u32.to_le_bytes());
    rec[8..11].copy_from_slice(b"cat");
    rec[24..35].copy_from_slice(b"/etc/shadow");
    let out = written(true, |out| run.record(0, &rec, out));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            v["type"].as_str(),
            v["ring"].as_str(),
            v["pid"].as_u64(),
            v["comm"].as_str(),
            v["filename"].as_str()
        ),
        (
            Some("event"),
            Some("alerts"),
            Some(42),
            Some("cat"),
            Some("/etc/shadow")
        )
    );
    let text = written(false, |out| {
        run.header(out);
        run.record(0, &rec, out);
    });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        "TIME     PID     UID     COMM             FILENAME"
    );
    assert!(
        lines[2].ends_with(" 42      0       cat              /etc/shadow"),
        "{:?}",
        lines[2]
    );
}

#[test]
fn maps_to_print_and_histograms_by_name() {
    let (obj, t) = open("biolatency");
    let maps = dump::dumpable(&obj.map_decls(), &t);
    let names: Vec<&str> = maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["start", "latency_hist_usecs"]);
    assert!(format!("{:?}", maps[1]).contains("Indexed"));
    assert!(format!("{:?}", maps[0]).contains("hist: None"));
    let (obj, t) = open("opens");
    assert!(
        dump::dumpable(&obj.map_decls(), &t).is_empty(),
        "ring buffers and .rodata are no dump"
    );
}
