;; Version 2 of a cycle counter used by examples-c/hot-reload.c: an i64 in the
;; retain area (8 bytes at 1024, layout id 1) counts polls across hot swaps;
;; each poll reports (version, count) through host.report.
(module
  (import "host" "report" (func $report (param i32 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0)
    "WCIM" "\01\00\00\00"
    "\00\00\00\00" "\00\00\00\00"
    "\00\00\00\00" "\00\00\00\00"
    "\00\04\00\00" "\08\00\00\00"
    "\01\00\00\00"
    "\00\00\00\00" "\00\00\00\00")
  (func (export "wasmcell_image") (result i32) (i32.const 0))
  (func (export "poll")
    (i64.store (i32.const 1024) (i64.add (i64.load (i32.const 1024)) (i64.const 1)))
    (call $report (i32.const 2) (i64.load (i32.const 1024)))))
