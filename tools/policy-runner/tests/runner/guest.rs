//! A scriptable waPC guest written in WAT, so the runner is tested against the waPC protocol
//! itself and not against the policy under test.
//!
//! Each waPC operation gets one behaviour: answer fixed bytes, fail, trap, spin forever,
//! grow memory, or make one host call and hand back what the host answered.

/// What the guest does when its operation is called.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// `__guest_response` with these bytes.
    Respond(String),
    /// `__guest_error` with this message.
    Fail(String),
    /// Executes `unreachable`.
    Trap,
    /// Loops forever; only an epoch deadline stops it.
    Spin,
    /// `memory.grow` by this many 64 KiB pages, then answers `then` or, if the host
    /// refused, `otherwise`.
    GrowMemory {
        pages: u32,
        then: String,
        otherwise: String,
    },
    /// `__host_call("kubewarden", namespace, operation, payload)`; answers the host's
    /// response, or fails with the host's error.
    HostCall {
        namespace: String,
        operation: String,
        payload: String,
    },
}

pub struct Guest {
    operations: Vec<(String, Behaviour)>,
}

/// Data segments start here and must end before the host-answer buffer.
const DATA_START: usize = 1024;
/// Host answers are copied here; the invocation (operation + payload) goes at 64 KiB.
const ANSWER_BUFFER: usize = 32 * 1024;
const INVOCATION: usize = 64 * 1024;

impl Guest {
    /// A well-behaved guest: speaks protocol v1 and accepts any settings.
    pub fn new() -> Self {
        Self {
            operations: Vec::new(),
        }
        .on("protocol_version", Behaviour::Respond(r#""v1""#.into()))
        .on(
            "validate_settings",
            Behaviour::Respond(r#"{"valid":true,"message":null}"#.into()),
        )
    }

    /// Sets (or replaces) the behaviour of `operation`.
    pub fn on(mut self, operation: &str, behaviour: Behaviour) -> Self {
        self.operations.retain(|(name, _)| name != operation);
        self.operations.push((operation.to_owned(), behaviour));
        self
    }

    pub fn wasm(&self) -> Vec<u8> {
        wat::parse_str(self.wat()).expect("the generated WAT is valid")
    }

    pub fn wat(&self) -> String {
        let mut data = DataSegments::default();
        let unknown = data.add("unknown operation");
        let dispatch: String = self
            .operations
            .iter()
            .map(|(name, behaviour)| {
                let name = data.add(name);
                format!(
                    "(if (call $eq (i32.const {INVOCATION}) (local.get $op_len) (i32.const {}) (i32.const {}))\n  (then {}))\n",
                    name.0,
                    name.1,
                    behaviour_wat(behaviour, &mut data)
                )
            })
            .collect();
        assert!(
            data.next <= ANSWER_BUFFER,
            "test guest data overflows into the answer buffer"
        );
        format!(
            r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 2)
  {segments}
  (func $eq (param $a i32) (param $a_len i32) (param $b i32) (param $b_len i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $a_len) (local.get $b_len)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $a_len)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $end i32)
    (local $len i32)
    (local.set $end (i32.add (i32.const {INVOCATION}) (i32.add (local.get $op_len) (local.get $msg_len))))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow
        (i32.add (i32.const 1) (i32.shr_u (i32.sub (local.get $end) (i32.shl (memory.size) (i32.const 16))) (i32.const 16)))))))
    (call $guest_request (i32.const {INVOCATION}) (i32.add (i32.const {INVOCATION}) (local.get $op_len)))
    {dispatch}
    (call $guest_error (i32.const {}) (i32.const {}))
    (i32.const 0)))
"#,
            unknown.0,
            unknown.1,
            segments = data.wat
        )
    }
}

fn behaviour_wat(behaviour: &Behaviour, data: &mut DataSegments) -> String {
    match behaviour {
        Behaviour::Respond(bytes) => respond(data.add(bytes)),
        Behaviour::Fail(message) => {
            let (at, len) = data.add(message);
            format!("(call $guest_error (i32.const {at}) (i32.const {len})) (return (i32.const 0))")
        }
        Behaviour::Trap => "(unreachable)".to_owned(),
        Behaviour::Spin => "(loop $spin (br $spin)) (unreachable)".to_owned(),
        Behaviour::GrowMemory {
            pages,
            then,
            otherwise,
        } => format!(
            "(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then {}) (else {}))",
            respond(data.add(otherwise)),
            respond(data.add(then))
        ),
        Behaviour::HostCall {
            namespace,
            operation,
            payload,
        } => {
            let binding = data.add("kubewarden");
            let namespace = data.add(namespace);
            let operation = data.add(operation);
            let payload = data.add(payload);
            format!(
                "(if (call $host_call (i32.const {}) (i32.const {}) (i32.const {}) (i32.const {}) (i32.const {}) (i32.const {}) (i32.const {}) (i32.const {}))
                   (then (local.set $len (call $host_response_len))
                         (call $host_response (i32.const {ANSWER_BUFFER}))
                         (call $guest_response (i32.const {ANSWER_BUFFER}) (local.get $len))
                         (return (i32.const 1)))
                   (else (local.set $len (call $host_error_len))
                         (call $host_error (i32.const {ANSWER_BUFFER}))
                         (call $guest_error (i32.const {ANSWER_BUFFER}) (local.get $len))
                         (return (i32.const 0))))",
                binding.0, binding.1, namespace.0, namespace.1, operation.0, operation.1, payload.0, payload.1
            )
        }
    }
}

fn respond((at, len): (usize, usize)) -> String {
    format!("(call $guest_response (i32.const {at}) (i32.const {len})) (return (i32.const 1))")
}

/// Data segments laid out one after another from `DATA_START`.
struct DataSegments {
    wat: String,
    next: usize,
}

impl Default for DataSegments {
    fn default() -> Self {
        Self {
            wat: String::new(),
            next: DATA_START,
        }
    }
}

impl DataSegments {
    /// Places `text` and returns its address and length.
    fn add(&mut self, text: &str) -> (usize, usize) {
        let at = self.next;
        let escaped: String = text.bytes().map(|b| format!("\\{b:02x}")).collect();
        self.wat
            .push_str(&format!("(data (i32.const {at}) \"{escaped}\")\n  "));
        self.next += text.len();
        (at, text.len())
    }
}
