/* Test-only stand-in for bcryptprimitives.dll, which Wine 8.0 lacks.
 *
 * Rust >= 1.78 Windows binaries (wasmcell.dll, the Rust test executables)
 * import ProcessPrng from bcryptprimitives.dll, present on Windows 10 and
 * later. Under Wine 8.0 the import fails and nothing loads; this DLL, built
 * with mingw and placed beside the test executables only, forwards the call
 * to RtlGenRandom (SystemFunction036 in advapi32). Never shipped: Windows
 * has the real one. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000u ? 0x40000000u : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
