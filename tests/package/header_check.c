/* Compiles the public C header alone, twice (include guard), as C99, C11 and
 * C++17 with -Wall -Wextra -Werror -pedantic: a user's strict build must not
 * trip on it. Compiled, not run. */
#include <wasmcell.h>
#include <wasmcell.h>

int main(void) {
    wasmcell_val v;
    wasmcell_buf b;
    wasmcell_stats s;
    v.i32 = WASMCELL_OK;
    b.ptr = 0;
    b.len = 0;
    s.polls = 0;
    (void)b;
    (void)s;
    return wasmcell_status_str(v.i32) == 0 ? WASMCELL_ERR_INTERNAL : WASMCELL_VERSION_NUMBER - WASMCELL_VERSION_NUMBER;
}
