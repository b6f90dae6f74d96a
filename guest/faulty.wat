;; A buggy user program: divides by a counter that reaches zero on its 3rd poll.
(module
  (global $n (mut i32) (i32.const 3))
  (func $step (result i32)
    (global.set $n (i32.sub (global.get $n) (i32.const 1)))
    (i32.div_s (i32.const 100) (global.get $n)))
  (func (export "poll") (drop (call $step))))
