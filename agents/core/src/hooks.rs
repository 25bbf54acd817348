//! What a tool attaches to, declared once: the runner picks what this kernel has, leaves every
//! other program out of the load, attaches in a safe order and says what it picked (`-v`);
//! `list`, `check` and the start-up checks read the same declaration, so what a tool needs and
//! what it attaches cannot disagree.
//!
//! A tool declares [`Group`]s of [`Attach`]es (a program and its [`Hook`]). A group is all
//! required, each optional, the first alternative this kernel fully has (most portable first),
//! or a set of syscall tracepoint pairs. Groups can be off by default (turned on by a flag) and
//! alternatives can be forced by label (`--hook kprobe`).

use std::collections::HashMap;

use crate::bpf::Object;
use crate::error::{Error, Result, EXIT_UNSUPPORTED};
use crate::probe;

/// Where a program attaches. Specs declare hooks with `&'static str` names; plans hold
/// [`HookBuf`]s, which tools that attach to what the user names (uprobes, patterns) build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook<S = &'static str> {
    /// tracefs `events/<category>/<name>`, through perf.
    Tracepoint(S, S),
    /// A raw tracepoint by name (4.17): the category is only used to find it in tracefs.
    RawTp(S, S),
    /// A BTF-typed raw tracepoint (5.5): needs the kernel's BTF, not trampolines.
    TpBtf(S, S),
    Kprobe(S),
    Kretprobe(S),
    /// BPF trampolines: x86_64, arm64 from 6.0.
    Fentry(S),
    Fexit(S),
    /// A function of an ELF file (`path`), by symbol; `ret` for the return probe.
    Uprobe {
        path: S,
        func: S,
        ret: bool,
        pid: Option<u32>,
    },
    /// A software perf event sampled `freq` times a second on every CPU (`perf_event`).
    CpuClock {
        freq: u64,
        pid: Option<u32>,
    },
}

/// A hook with owned names.
pub type HookBuf = Hook<String>;

/// The kinds of hook, for what a kernel lacks as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Tracepoint,
    SyscallTracepoint,
    RawTp,
    TpBtf,
    Kprobe,
    Fentry,
    Uprobe,
    PerfEvent,
}

impl<S: AsRef<str>> Hook<S> {
    pub fn kind(&self) -> Kind {
        match self {
            Hook::Tracepoint(c, _) if c.as_ref() == "syscalls" => Kind::SyscallTracepoint,
            Hook::Tracepoint(..) => Kind::Tracepoint,
            Hook::RawTp(..) => Kind::RawTp,
            Hook::TpBtf(..) => Kind::TpBtf,
            Hook::Kprobe(_) | Hook::Kretprobe(_) => Kind::Kprobe,
            Hook::Fentry(_) | Hook::Fexit(_) => Kind::Fentry,
            Hook::Uprobe { .. } => Kind::Uprobe,
            Hook::CpuClock { .. } => Kind::PerfEvent,
        }
    }

    /// How the `-v` line and errors name it.
    pub fn describe(&self) -> String {
        match self {
            Hook::Tracepoint(c, n) => format!("tracepoint {}:{}", c.as_ref(), n.as_ref()),
            Hook::RawTp(_, n) => format!("raw_tp {}", n.as_ref()),
            Hook::TpBtf(_, n) => format!("tp_btf {}", n.as_ref()),
            Hook::Kprobe(f) => format!("kprobe {}", f.as_ref()),
            Hook::Kretprobe(f) => format!("kretprobe {}", f.as_ref()),
            Hook::Fentry(f) => format!("fentry {}", f.as_ref()),
            Hook::Fexit(f) => format!("fexit {}", f.as_ref()),
            Hook::Uprobe {
                path, func, ret, ..
            } => format!(
                "{} {}:{}",
                if *ret { "uretprobe" } else { "uprobe" },
                path.as_ref(),
                func.as_ref()
            ),
            Hook::CpuClock { freq, .. } => format!("perf_event cpu-clock at {freq} Hz"),
        }
    }

    /// The same hook with owned names.
    pub fn to_buf(&self) -> HookBuf {
        let o = |s: &S| s.as_ref().to_string();
        match self {
            Hook::Tracepoint(c, n) => Hook::Tracepoint(o(c), o(n)),
            Hook::RawTp(c, n) => Hook::RawTp(o(c), o(n)),
            Hook::TpBtf(c, n) => Hook::TpBtf(o(c), o(n)),
            Hook::Kprobe(f) => Hook::Kprobe(o(f)),
            Hook::Kretprobe(f) => Hook::Kretprobe(o(f)),
            Hook::Fentry(f) => Hook::Fentry(o(f)),
            Hook::Fexit(f) => Hook::Fexit(o(f)),
            Hook::Uprobe {
                path,
                func,
                ret,
                pid,
            } => Hook::Uprobe {
                path: o(path),
                func: o(func),
                ret: *ret,
                pid: *pid,
            },
            Hook::CpuClock { freq, pid } => Hook::CpuClock {
                freq: *freq,
                pid: *pid,
            },
        }
    }
}

/// One program and where it attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attach {
    pub prog: &'static str,
    pub hook: Hook,
}

impl Attach {
    pub const fn new(prog: &'static str, hook: Hook) -> Attach {
        Attach { prog, hook }
    }
}

/// `Attach::new(prog, Hook::Tracepoint(category, name))`.
pub const fn tracepoint(prog: &'static str, category: &'static str, name: &'static str) -> Attach {
    Attach::new(prog, Hook::Tracepoint(category, name))
}

/// Which syscalls of a [`Body::Syscalls`] group must be there.
#[derive(Debug, Clone, Copy)]
pub enum Required {
    /// Every one of these.
    All(&'static [&'static str]),
    /// At least one of these.
    Any(&'static [&'static str]),
}

/// The exit half of syscall tracepoint pairs.
#[derive(Debug, Clone, Copy)]
pub enum Exit {
    /// `tp_exit_<name>` for each syscall.
    PerSyscall,
    /// One program for every syscall's exit (one copy of the code).
    Shared(&'static str),
    /// One program on the exits only, no enter programs: for tools that need nothing but
    /// the call's result (the descriptor accept() returned, the end of a connect()).
    Only(&'static str),
}

#[derive(Debug, Clone)]
pub enum Body {
    /// Every hook, each required.
    All(&'static [Attach]),
    /// Each hook that this kernel has.
    Optional(&'static [Attach]),
    /// The first alternative whose required hooks this kernel all has, most portable first.
    FirstOf(&'static [Group]),
    /// `syscalls:sys_{enter,exit}_<name>` pairs: program `tp_enter_<name>` and the exit
    /// program(s), for every syscall whose two tracepoints the kernel has. Exits are attached
    /// before enters, so no call is seen entering without its exit being traced.
    Syscalls {
        names: &'static [&'static str],
        required: Required,
        exit: Exit,
    },
}

/// A set of hooks that goes together.
#[derive(Debug, Clone)]
pub struct Group {
    /// The name a tool turns the group on or off by, or forces an alternative by.
    pub label: &'static str,
    pub body: Body,
    /// Off unless the tool turns it on.
    pub default_on: bool,
    /// What the `-v` line says once attached; `{}` is the list of syscalls (or hooks)
    /// attached. None: the hooks' own names.
    pub text: Option<&'static str>,
}

impl Group {
    pub const fn all(label: &'static str, hooks: &'static [Attach]) -> Group {
        Group {
            label,
            body: Body::All(hooks),
            default_on: true,
            text: None,
        }
    }
    pub const fn optional(label: &'static str, hooks: &'static [Attach]) -> Group {
        Group {
            label,
            body: Body::Optional(hooks),
            default_on: true,
            text: None,
        }
    }
    pub const fn first_of(label: &'static str, alternatives: &'static [Group]) -> Group {
        Group {
            label,
            body: Body::FirstOf(alternatives),
            default_on: true,
            text: None,
        }
    }
    pub const fn syscalls(
        label: &'static str,
        names: &'static [&'static str],
        required: Required,
        exit: Exit,
    ) -> Group {
        Group {
            label,
            body: Body::Syscalls {
                names,
                required,
                exit,
            },
            default_on: true,
            text: None,
        }
    }
    /// Off until the tool turns it on.
    pub const fn off(mut self) -> Group {
        self.default_on = false;
        self
    }
    /// What the `-v` line says for it (`{}`: what was attached).
    pub const fn text(mut self, text: &'static str) -> Group {
        self.text = Some(text);
        self
    }
}

/// Whether this kernel has each hook: the real kernel ([`Running`]), or another one (tests,
/// and `check` asking what a missing kind would disable).
pub trait Kernel {
    /// None if the hook can be attached here; otherwise why not and the fix.
    fn missing(&self, hook: &HookBuf) -> Option<String>;
}

/// The running kernel, probed once per hook and remembered.
#[derive(Default)]
pub struct Running {
    seen: std::cell::RefCell<HashMap<HookBuf, Option<String>>>,
}

impl Kernel for Running {
    fn missing(&self, hook: &HookBuf) -> Option<String> {
        if let Some(r) = self.seen.borrow().get(hook) {
            return r.clone();
        }
        let r = probe::hook_missing(hook);
        self.seen.borrow_mut().insert(hook.clone(), r.clone());
        r
    }
}

/// A kernel like another but without one kind of hook: what would a tool lack there?
pub struct Without<'a> {
    pub base: &'a dyn Kernel,
    pub kind: Kind,
}

impl Kernel for Without<'_> {
    fn missing(&self, hook: &HookBuf) -> Option<String> {
        if hook.kind() == self.kind {
            Some(format!("no {:?} hooks", self.kind))
        } else {
            self.base.missing(hook)
        }
    }
}

/// A tool's choices among its groups: which optional ones are on, which alternative is forced.
#[derive(Debug, Default, Clone)]
pub struct Choices {
    on: HashMap<&'static str, bool>,
    forced: Vec<&'static str>,
}

impl Choices {
    pub fn set(&mut self, label: &'static str, on: bool) {
        self.on.insert(label, on);
    }
    /// Use the alternative labelled `label` of a [`Body::FirstOf`] group, or fail.
    pub fn force(&mut self, label: &'static str) {
        self.forced.push(label);
    }
    /// Forces what a `--hook` option names (nothing for auto).
    pub fn force_hook(&mut self, hook: &dyn ForcedHook) {
        if let Some(label) = hook.label() {
            self.force(label);
        }
    }
    fn is_on(&self, g: &Group) -> bool {
        self.on.get(g.label).copied().unwrap_or(g.default_on)
    }
}

/// `--hook`: the best hooks this kernel has, or one kind forced, for tools whose hook groups
/// offer alternatives labelled `kprobe` and `tracepoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookChoice {
    #[default]
    Auto,
    Kprobe,
    Tracepoint,
}

/// Parses `--hook` (argh's `from_str_fn`): auto, kprobe or tracepoint.
pub fn parse_hook_choice(s: &str) -> std::result::Result<HookChoice, String> {
    Ok(match s {
        "auto" => HookChoice::Auto,
        "kprobe" => HookChoice::Kprobe,
        "tracepoint" => HookChoice::Tracepoint,
        _ => return Err(format!("bad hook {s:?}: auto, kprobe or tracepoint")),
    })
}

/// A tool's `--hook` option ([`crate::tool::Handler::hook`]): the labelled alternative it
/// forces, and the fix to suggest when this kernel lacks it.
pub trait ForcedHook {
    /// The label of the alternative forced; None: the best this kernel has.
    fn label(&self) -> Option<&'static str>;
    /// The fix to suggest when the forced alternative is missing.
    fn hint(&self) -> Option<String>;
}

impl ForcedHook for HookChoice {
    fn label(&self) -> Option<&'static str> {
        match self {
            HookChoice::Auto => None,
            HookChoice::Kprobe => Some("kprobe"),
            HookChoice::Tracepoint => Some("tracepoint"),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            HookChoice::Auto => None,
            HookChoice::Kprobe => Some(
                "use --hook tracepoint (or auto), or enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS"
                    .to_string(),
            ),
            HookChoice::Tracepoint => Some("use --hook auto (or kprobe)".to_string()),
        }
    }
}

/// One program to attach, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub prog: String,
    pub hook: HookBuf,
    /// The BPF cookie of the link (`bpf_get_attach_cookie`, 5.15+): which of several hooks
    /// of one program fired. 0: none.
    pub cookie: u64,
}

/// What will be attached, in order, and how the `-v` line describes it.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    pub attach: Vec<Planned>,
    /// One phrase per group attached.
    pub texts: Vec<String>,
    /// Labels of the groups (and alternatives) picked.
    pub picked: Vec<&'static str>,
}

impl Plan {
    /// Adds hooks a tool planned itself (what the user named), with the `-v` text for them.
    pub fn push(&mut self, prog: impl Into<String>, hook: HookBuf) {
        self.push_cookie(prog, hook, 0);
    }

    /// [`Plan::push`], with a BPF cookie for the link (tracepoints and uprobes).
    pub fn push_cookie(&mut self, prog: impl Into<String>, hook: HookBuf, cookie: u64) {
        self.attach.push(Planned {
            prog: prog.into(),
            hook,
            cookie,
        });
    }

    /// Adds a phrase to the `-v` line.
    pub fn say(&mut self, text: impl Into<String>) {
        self.texts.push(text.into());
    }

    /// The programs the plan uses: every other program of the object is left out of the load.
    pub fn programs(&self) -> impl Iterator<Item = &str> {
        self.attach.iter().map(|a| a.prog.as_str())
    }

    /// The `-v` line's description.
    pub fn describe(&self) -> String {
        self.texts.join("; ")
    }

    /// Did the plan pick the group or alternative labelled `label`?
    pub fn picked(&self, label: &str) -> bool {
        self.picked.contains(&label)
    }
}

fn names_text(template: Option<&str>, default: String, list: &[&str]) -> String {
    match template {
        Some(t) => t.replace("{}", &list.join(", ")),
        None => default,
    }
}

/// Resolves `groups` against `kernel`: Ok(plan), or Err(why the tool cannot run here).
pub fn resolve(
    groups: &[Group],
    choices: &Choices,
    kernel: &dyn Kernel,
) -> std::result::Result<Plan, String> {
    let mut plan = Plan::default();
    for g in groups.iter().filter(|g| choices.is_on(g)) {
        resolve_group(g, choices, kernel, &mut plan)?;
    }
    Ok(plan)
}

fn resolve_group(
    g: &Group,
    choices: &Choices,
    kernel: &dyn Kernel,
    plan: &mut Plan,
) -> std::result::Result<(), String> {
    match &g.body {
        Body::All(hooks) => {
            if let Some(why) = hooks.iter().find_map(|a| kernel.missing(&a.hook.to_buf())) {
                return Err(why);
            }
            push_hooks(plan, g, hooks.iter());
        }
        Body::Optional(hooks) => {
            let have: Vec<&Attach> = hooks
                .iter()
                .filter(|a| kernel.missing(&a.hook.to_buf()).is_none())
                .collect();
            if !have.is_empty() {
                push_hooks(plan, g, have.into_iter());
            }
        }
        Body::FirstOf(alts) => {
            let forced = alts.iter().find(|a| choices.forced.contains(&a.label));
            if let Some(alt) = forced {
                let mut sub = Plan::default();
                resolve_group(alt, choices, kernel, &mut sub)
                    .map_err(|why| format!("{} ({} was asked for)", why, alt.label))?;
                merge(plan, sub, alt.label);
            } else {
                let mut whys = Vec::new();
                let mut done = false;
                for alt in alts.iter() {
                    let mut sub = Plan::default();
                    match resolve_group(alt, choices, kernel, &mut sub) {
                        Ok(()) => {
                            merge(plan, sub, alt.label);
                            done = true;
                            break;
                        }
                        Err(why) => whys.push(why),
                    }
                }
                if !done {
                    return Err(whys.join(", and "));
                }
            }
        }
        Body::Syscalls {
            names,
            required,
            exit,
        } => {
            let have: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| syscall_missing(kernel, n).is_none())
                .collect();
            let ok = match required {
                Required::All(r) => r.iter().all(|n| have.contains(n)),
                Required::Any(r) => r.iter().any(|n| have.contains(n)),
            };
            if !ok {
                let (list, first) = match required {
                    Required::All(r) => (r.join(", "), r[0]),
                    Required::Any(r) => (r.join(" or "), r[0]),
                };
                let why = syscall_missing(kernel, first).unwrap_or_default();
                return Err(format!("no syscall tracepoints for {list}: {why}"));
            }
            for n in &have {
                let (enter, exit_prog) = match exit {
                    Exit::PerSyscall => (Some(format!("tp_enter_{n}")), format!("tp_exit_{n}")),
                    Exit::Shared(p) => (Some(format!("tp_enter_{n}")), p.to_string()),
                    Exit::Only(p) => (None, p.to_string()),
                };
                // The exit first: a call seen entering then has its exit seen too.
                plan.push(
                    exit_prog,
                    Hook::Tracepoint("syscalls".into(), format!("sys_exit_{n}")),
                );
                if let Some(enter) = enter {
                    plan.push(
                        enter,
                        Hook::Tracepoint("syscalls".into(), format!("sys_enter_{n}")),
                    );
                }
            }
            let halves = if matches!(exit, Exit::Only(_)) {
                "exit"
            } else {
                "{enter,exit}"
            };
            let default = format!("tracepoints syscalls:sys_{halves}_{{{}}}", have.join(","));
            plan.texts.push(names_text(g.text, default, &have));
            plan.picked.push(g.label);
        }
    }
    Ok(())
}

fn syscall_missing(kernel: &dyn Kernel, name: &str) -> Option<String> {
    let tp = |half: &str| Hook::Tracepoint("syscalls".to_string(), format!("sys_{half}_{name}"));
    kernel
        .missing(&tp("enter"))
        .or_else(|| kernel.missing(&tp("exit")))
}

fn push_hooks<'a>(plan: &mut Plan, g: &Group, hooks: impl Iterator<Item = &'a Attach>) {
    let mut descs = Vec::new();
    for a in hooks {
        descs.push(a.hook.describe());
        plan.push(a.prog, a.hook.to_buf());
    }
    let list: Vec<&str> = descs.iter().map(String::as_str).collect();
    plan.texts.push(names_text(g.text, descs.join(", "), &list));
    plan.picked.push(g.label);
}

fn merge(plan: &mut Plan, sub: Plan, label: &'static str) {
    plan.attach.extend(sub.attach);
    plan.texts.extend(sub.texts);
    plan.picked.push(label);
    plan.picked.extend(sub.picked);
}

/// Every program any group could attach (to tell them from helper programs, none today).
pub fn all_programs(groups: &[Group]) -> Vec<String> {
    let mut out = Vec::new();
    for g in groups {
        match &g.body {
            Body::All(h) | Body::Optional(h) => out.extend(h.iter().map(|a| a.prog.to_string())),
            Body::FirstOf(alts) => out.extend(all_programs(alts)),
            Body::Syscalls { names, exit, .. } => {
                for n in names.iter() {
                    match exit {
                        Exit::PerSyscall => {
                            out.push(format!("tp_enter_{n}"));
                            out.push(format!("tp_exit_{n}"));
                        }
                        Exit::Shared(p) => {
                            out.push(format!("tp_enter_{n}"));
                            out.push(p.to_string());
                        }
                        Exit::Only(p) => out.push(p.to_string()),
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Before load: every program of `obj` the plan does not use is left out, so the verifier
/// never sees a hook this kernel lacks.
pub fn select(obj: &mut Object, plan: &Plan) -> Result<()> {
    let wanted: Vec<&str> = plan.programs().collect();
    for (prog, _) in obj.programs() {
        if !wanted.contains(&prog.as_str()) {
            obj.set_autoload(&prog, false)?;
        }
    }
    Ok(())
}

/// After load: attaches the plan, in order.
pub fn attach(obj: &mut Object, plan: &Plan) -> Result<()> {
    for a in &plan.attach {
        attach_one(obj, &a.prog, &a.hook, a.cookie)?;
    }
    Ok(())
}

fn attach_one(obj: &mut Object, prog: &str, hook: &HookBuf, cookie: u64) -> Result<()> {
    match hook {
        Hook::Tracepoint(c, n) => obj.attach_tracepoint_cookie(prog, c, n, cookie),
        Hook::RawTp(_, n) => obj.attach_raw_tp(prog, n),
        Hook::TpBtf(..) | Hook::Fentry(_) | Hook::Fexit(_) => {
            obj.attach_trace(prog, &hook.describe())
        }
        Hook::Kprobe(f) => obj.attach_kprobe(prog, f, false),
        Hook::Kretprobe(f) => obj.attach_kprobe(prog, f, true),
        Hook::Uprobe {
            path,
            func,
            ret,
            pid,
        } => obj.attach_uprobe_cookie(prog, path, func, *ret, *pid, cookie),
        Hook::CpuClock { freq, pid } => {
            for cpu in probe::online_cpus()? {
                let fd = probe::open_cpu_clock(*freq, cpu, *pid).map_err(|e| {
                    Error::os(
                        format!("cannot open a cpu-clock perf event on CPU {cpu}"),
                        e,
                    )
                    .code(EXIT_UNSUPPORTED)
                })?;
                obj.attach_perf_event(prog, fd, &hook.describe())?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel that has exactly these hooks.
    struct Has(Vec<HookBuf>);
    impl Kernel for Has {
        fn missing(&self, hook: &HookBuf) -> Option<String> {
            (!self.0.contains(hook)).then(|| format!("no {}", hook.describe()))
        }
    }

    fn sys(names: &[&str]) -> Vec<HookBuf> {
        names
            .iter()
            .flat_map(|n| {
                [
                    Hook::Tracepoint("syscalls".into(), format!("sys_enter_{n}")),
                    Hook::Tracepoint("syscalls".into(), format!("sys_exit_{n}")),
                ]
            })
            .collect()
    }

    const OPEN: &[Group] = &[Group::syscalls(
        "",
        &["open", "openat", "openat2"],
        Required::All(&["openat"]),
        Exit::Shared("tp_exit"),
    )];

    /// (program, hook) of each attachment, in the order of the plan.
    fn attach_order(plan: &Plan) -> Vec<(&str, String)> {
        plan.attach
            .iter()
            .map(|a| (a.prog.as_str(), a.hook.describe()))
            .collect()
    }

    #[test]
    fn syscalls_attach_what_is_there_exits_first() {
        let k = Has(sys(&["openat", "openat2"]));
        let plan = resolve(OPEN, &Choices::default(), &k).unwrap();
        let order = attach_order(&plan);
        assert_eq!(
            order,
            [
                ("tp_exit", "tracepoint syscalls:sys_exit_openat".to_string()),
                (
                    "tp_enter_openat",
                    "tracepoint syscalls:sys_enter_openat".into()
                ),
                ("tp_exit", "tracepoint syscalls:sys_exit_openat2".into()),
                (
                    "tp_enter_openat2",
                    "tracepoint syscalls:sys_enter_openat2".into()
                ),
            ]
        );
        assert_eq!(
            plan.describe(),
            "tracepoints syscalls:sys_{enter,exit}_{openat,openat2}"
        );
        let why = resolve(OPEN, &Choices::default(), &Has(sys(&["open"]))).unwrap_err();
        assert!(why.contains("openat"), "{why}");
    }

    const TOP: &[Group] = &[Group::first_of(
        "",
        &[
            Group::all(
                "kprobe",
                &[
                    Attach::new("kp", Hook::Kprobe("vfs_read")),
                    Attach::new("krp", Hook::Kretprobe("vfs_read")),
                ],
            )
            .text("kprobes on vfs_read"),
            Group::syscalls(
                "tracepoint",
                &["read"],
                Required::All(&["read"]),
                Exit::PerSyscall,
            )
            .text("syscall tracepoints of {}"),
        ],
    )];

    #[test]
    fn first_of_picks_the_first_complete_alternative_or_the_forced_one() {
        let mut hooks = sys(&["read"]);
        hooks.push(Hook::Kprobe("vfs_read".into()));
        // A kretprobe missing: the kprobe alternative is incomplete, the tracepoints win.
        let plan = resolve(TOP, &Choices::default(), &Has(hooks.clone())).unwrap();
        assert!(plan.picked("tracepoint") && !plan.picked("kprobe"));
        assert_eq!(plan.describe(), "syscall tracepoints of read");
        hooks.push(Hook::Kretprobe("vfs_read".into()));
        let plan = resolve(TOP, &Choices::default(), &Has(hooks.clone())).unwrap();
        assert_eq!(plan.describe(), "kprobes on vfs_read");
        let mut c = Choices::default();
        c.force("tracepoint");
        assert!(resolve(TOP, &c, &Has(hooks)).unwrap().picked("tracepoint"));
        let mut c = Choices::default();
        c.force("kprobe");
        let why = resolve(TOP, &c, &Has(sys(&["read"]))).unwrap_err();
        assert!(why.contains("kprobe was asked for"), "{why}");
        // Neither: both reasons.
        let why = resolve(TOP, &Choices::default(), &Has(vec![])).unwrap_err();
        assert!(
            why.contains("kprobe vfs_read") && why.contains("read"),
            "{why}"
        );
    }

    #[test]
    fn exit_only_syscalls_attach_no_enter_program() {
        const ACCEPT: &[Group] = &[Group::syscalls(
            "",
            &["accept", "accept4"],
            Required::Any(&["accept", "accept4"]),
            Exit::Only("tp_exit_accept"),
        )];
        let plan = resolve(ACCEPT, &Choices::default(), &Has(sys(&["accept4"]))).unwrap();
        let order = attach_order(&plan);
        assert_eq!(
            order,
            [(
                "tp_exit_accept",
                "tracepoint syscalls:sys_exit_accept4".to_string()
            )]
        );
        assert_eq!(plan.describe(), "tracepoints syscalls:sys_exit_{accept4}");
        assert_eq!(all_programs(ACCEPT), ["tp_exit_accept"]);
        assert!(resolve(ACCEPT, &Choices::default(), &Has(vec![])).is_err());
    }

    #[test]
    fn groups_off_by_default_and_optional_hooks() {
        const G: &[Group] = &[
            Group::all("", &[tracepoint("x", "raw_syscalls", "sys_exit")]),
            Group::all("latency", &[tracepoint("y", "raw_syscalls", "sys_enter")]).off(),
            Group::optional("", &[tracepoint("z", "sched", "nope")]),
        ];
        let k = Has(vec![
            Hook::Tracepoint("raw_syscalls".into(), "sys_exit".into()),
            Hook::Tracepoint("raw_syscalls".into(), "sys_enter".into()),
        ]);
        let plan = resolve(G, &Choices::default(), &k).unwrap();
        assert_eq!(plan.programs().collect::<Vec<_>>(), ["x"]);
        let mut c = Choices::default();
        c.set("latency", true);
        let plan = resolve(G, &c, &k).unwrap();
        assert_eq!(plan.programs().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(all_programs(G), ["x", "y", "z"]);
        // Kernels without a kind of hook: the syscall tracepoints are not needed, the others are.
        let without = |kind| Without { base: &k, kind };
        assert!(resolve(G, &Choices::default(), &without(Kind::SyscallTracepoint)).is_ok());
        assert!(resolve(G, &Choices::default(), &without(Kind::Tracepoint)).is_err());
    }
}
