"""pyfingerprint, another vendor's EF01 host library, against `kiosk simulate fingerprint`.

Usage: pyfingerprint_session.py KIOSK CONFIG SIM_DIR OUT_DIR
Runs what such software does — password, parameters, enrol at the lowest free page (found
through the index table), search, image upload, template up/download, compare, random numbers,
packet size, delete, clear — and asserts every answer. Prints one line per step.
"""
import json
import os
import subprocess
import sys
import time

from pyfingerprint.pyfingerprint import PyFingerprint

kiosk, config, sim_dir, out_dir = sys.argv[1:5]
sim = subprocess.Popen(
    [kiosk, "simulate", "fingerprint", "--config", config, "--dir", sim_dir],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
hello = json.loads(sim.stdout.readline())
port = hello["endpoint"]


def stim(line):
    sim.stdin.write(line + "\n")
    sim.stdin.flush()
    answer = json.loads(sim.stdout.readline())
    assert answer["ok"], answer


def until(want, what):
    """readImage until it says `want`, for at most 10 s."""
    deadline = time.monotonic() + 10
    while f.readImage() != want:
        assert time.monotonic() < deadline, what


f = PyFingerprint(port, 57600, 0xFFFFFFFF, 0x00000000)
assert f.verifyPassword()
assert f.getStorageCapacity() == 300
assert f.getSecurityLevel() == 3
assert f.getTemplateCount() == 0
r1, r2 = f.generateRandomNumber(), f.generateRandomNumber()
assert r1 != r2 and 0 <= r1 < 2**32
print("password, parameters, random numbers")

# A page someone else's software already used: enrolment takes the lowest free ones around it.
stim('enroll {"page": 1, "finger": "carol"}')
stored = {}
for finger in ["alice", "bob"]:
    stim('present {"finger": "%s"}' % finger)
    stim('present {"finger": "%s"}' % finger)
    until(True, "first capture")
    f.convertImage(0x01)
    until(False, "finger lifted")
    until(True, "second capture")
    f.convertImage(0x02)
    assert f.createTemplate()
    stored[finger] = f.storeTemplate()
assert stored == {"alice": 0, "bob": 2}, stored
assert [i for i, used in enumerate(f.getTemplateIndex(0)) if used] == [0, 1, 2]
assert f.getTemplateCount() == 3
print("enrolled at the free pages the index table showed:", stored)

stim('present {"finger": "bob"}')
until(True, "capture for search")
image = os.path.join(out_dir, "bob.bmp")
f.downloadImage(image)
assert os.path.getsize(image) > 256 * 288, os.path.getsize(image)
f.convertImage(0x01)
assert f.searchTemplate() == (2, 150)
print("image uploaded, search found bob at page 2")

assert f.loadTemplate(0, 0x02)
assert f.compareCharacteristics() == 0
chars = f.downloadCharacteristics(0x01)
assert len(chars) == 512
assert f.uploadCharacteristics(0x02, chars)
assert f.compareCharacteristics() == 120
print("templates loaded, moved both ways and compared")

assert f.setSystemParameter(6, 1)
assert f.getMaxPacketSize() == 64
chars64 = f.downloadCharacteristics(0x01)
assert chars64 == chars
print("packet size 64, template unchanged")

assert f.deleteTemplate(0)
assert f.getTemplateCount() == 2
assert f.clearDatabase()
assert f.getTemplateCount() == 0
print("deleted and cleared")

sim.stdin.close()
sim.wait(10)
print("pyfingerprint session complete")
