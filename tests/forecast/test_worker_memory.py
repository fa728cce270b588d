"""A fitting process keeps freed arrays' memory for the next ones (`fitting._keep_freed_memory`): a
Newton iteration's temporaries then cost no page faults the second time round."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "kept":
        from sop_pipeline.forecasting.fitting import _keep_freed_memory
        _keep_freed_memory()
    def faults_of_one_round():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.ones(5_000_000)  # 40 MB: past the most glibc's sliding mmap threshold reaches (32 MiB)
        a += 1.0
        del a
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    faults_of_one_round()
    print(sum(faults_of_one_round() for _ in range(4)))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_second_round_of_large_arrays_faults_no_fresh_pages_once_kept():
    faults = {mode: int(subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                                       check=True).stdout) for mode in ("default", "kept")}
    # glibc's default maps the array afresh each round: at least one fault per 2 MiB (transparent huge
    # pages), 40 MB x 4 rounds; kept, the heap serves it again without a fault.
    assert faults["default"] >= 4 * 20
    assert faults["kept"] < faults["default"] / 20
