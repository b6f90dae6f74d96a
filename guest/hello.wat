;; WAT twin of example-program.rs, used when the wasm32 Rust target is absent.
(module
  (import "env" "print" (func $print (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Polling\n")
  (func (export "poll")
    (drop (call $print (i32.const 16) (i32.const 8)))))
