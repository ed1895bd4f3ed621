"""Screenshots of the delivery page for the README: `credit serve` on a data directory, driven by Chromium.

    python scripts/page_screenshot.py --data-dir DATA --bad-file FILE.csv --out docs/

Signs in with a throwaway token, uploads `--bad-file` (a delivery with mistakes) and saves
`delivery_page.png`: the page with the upload's line-numbered problems and the months below.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--bad-file", required=True)
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_urlsafe(16)
    credit = shutil.which("credit", path=os.path.dirname(sys.executable)) or "credit"
    env = {**os.environ, "CREDIT_DATA_DIR": str(Path(args.data_dir).resolve()), "CREDIT_API_TOKEN": token}
    server = subprocess.Popen(
        [credit, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in server.stdout:
            if "listening on http" in line:
                break
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            for _ in range(100):
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    page.wait_for_timeout(100)
            page.fill("input[name=token]", token)
            page.click("input[type=submit]")
            page.wait_for_selector("#months")
            page.set_input_files("input[type=file]", args.bad_file)
            page.click("input[value='Upload and check']")
            page.wait_for_selector("#result")
            out = Path(args.out) / "delivery_page.png"
            page.screenshot(path=str(out), full_page=True)
            print(f"wrote {out}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
