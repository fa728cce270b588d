"""Screenshot an executive report in headless Chromium: `python scripts/screenshot_report.py REPORT.html OUT.png`.

Checks that the report renders (plotly.js is inlined, so no network is needed) or makes a picture
for slides. Needs the `chromium` browser (Debian: apt-get install chromium).
"""

from __future__ import annotations

import argparse
import sys

from sop_pipeline.common.errors import SopError
from sop_pipeline.report.html import screenshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", help="the report file (reports/sop_report_<YYYY-MM>.html)")
    parser.add_argument("png", help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)
    try:
        path = screenshot(args.html, args.png, width=args.width, height=args.height)
    except SopError as error:
        print(error.message, file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
