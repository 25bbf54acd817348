//! What a tool's source needs, in one `use agent_core::prelude::*;`.

pub use crate::bpf::Object;
pub use crate::cli::{check_range, interval_count, parse_duration, parse_pid, Common};
pub use crate::error::{Error, Result, EXIT_UNSUPPORTED};
pub use crate::hooks::{
    parse_hook_choice, tracepoint, Attach, Choices, Exit, ForcedHook, Group, Hook, HookChoice,
    Plan, Required,
};
pub use crate::interval::{IntervalOptions, Tick};
pub use crate::json::Obj;
pub use crate::maps;
pub use crate::output::{cstr, Out};
pub use crate::pod::{self, Struct};
pub use crate::text::{pad_from, push_escaped, push_escaped_left, push_left, Fixed};
pub use crate::tool::{self, pid_filter, Handler, SelfTest, Spec, Tool};
pub use argh::FromArgs;
pub use std::fmt::Write as _;
