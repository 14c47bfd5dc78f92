"""App resources and packaging: icon files, stylesheets, desktop entry and its installer."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workbench.services import paths

ROOT = Path(__file__).resolve().parents[2]
ICONS = Path(paths.resource("icons"))
STYLES = Path(paths.resource("styles"))
PACKAGING = ROOT / "packaging"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_icon_files_and_packaging_copies():
    assert png_size(ICONS / "workbench.png") == (256, 256)
    root = ET.parse(ICONS / "workbench.svg").getroot()
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 256 256"
    for name in ("workbench.png", "workbench.svg"):
        assert (PACKAGING / "icons" / name).read_bytes() == (ICONS / name).read_bytes()


def selectors(qss: str) -> set[str]:
    body = re.sub(r"/\*.*?\*/", "", qss, flags=re.S)
    assert body.count("{") == body.count("}")
    return {s.strip() for block in re.findall(r"([^{}]+)\{", body) for s in block.split(",")}


def test_stylesheets_cover_the_main_window_and_match_each_other():
    light = selectors((STYLES / "light.qss").read_text(encoding="utf-8"))
    dark = selectors((STYLES / "dark.qss").read_text(encoding="utf-8"))
    assert light == dark
    for needed in ('QListWidget#nav', 'QListWidget#nav::item:selected', 'QPushButton[primary="true"]',
                   'QPushButton#primary', 'QGroupBox', 'QTableView', 'QHeaderView::section',
                   'QStatusBar', 'QProgressBar::chunk', 'QTextEdit', 'QPlainTextEdit'):
        assert needed in light, needed


def test_qt_parses_the_stylesheets_and_renders_the_svg():
    # A child process: Qt prints "Could not parse ... stylesheet" for a broken sheet.
    script = f"""
import sys
from PySide6.QtWidgets import QApplication, QPushButton
from PySide6.QtSvg import QSvgRenderer
app = QApplication([])
assert QSvgRenderer({str(ICONS / 'workbench.svg')!r}).isValid()
for name in ("light", "dark"):
    app.setStyleSheet(open({str(STYLES)!r} + f"/{{name}}.qss", encoding="utf-8").read())
    button = QPushButton("x"); button.setProperty("primary", True); button.ensurePolished()
print("done")
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
    assert "Could not parse" not in result.stderr, result.stderr


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_entry():
    entry = read_entry(PACKAGING / "workbench.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "Workbench"
    assert entry["Exec"] == "workbench-gui %f" and entry["Icon"] == "workbench"
    assert entry["Categories"] == "Development;Science;"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_script_installs_and_uninstalls(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    script = str(PACKAGING / "install-desktop-entry.sh")
    subprocess.run(["bash", script], check=True, capture_output=True, env=env, timeout=60)
    installed = tmp_path / "applications" / "workbench.desktop"
    entry = read_entry(installed)
    assert entry["Exec"] == f"{ROOT / '.venv' / 'bin' / 'workbench-gui'} %f"
    assert entry["Icon"] == "workbench" and entry["Name"] == "Workbench"
    png = tmp_path / "icons" / "hicolor" / "256x256" / "apps" / "workbench.png"
    assert png.read_bytes() == (ICONS / "workbench.png").read_bytes()
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "workbench.svg").is_file()
    subprocess.run(["bash", script, "--uninstall"], check=True, capture_output=True, env=env, timeout=60)
    assert not installed.exists() and not png.exists()
