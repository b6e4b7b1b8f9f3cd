"""Validates FHIR JSON files against the FHIR R4 (4.0.1) models of fhir.resources 6.4.0.

Usage: python validate_r4.py DIR

Each DIR/*.json holds one resource (a Bundle's entries are validated with it, each as its own
resourceType). The models are pydantic classes generated from the R4 specification: unknown
elements, wrong types, malformed dates and instants and invalid codes are refused. fhir.resources
6.4.0 is the last release whose models are R4 itself (7.x and later default to R5 and carry R4B,
not R4), so scripts/test pins it (with pydantic 1, which it is written for).

Prints the library and FHIR versions, a count per resource type and "N files valid"; exits 1
naming the first file that does not validate.
"""

import json
import pathlib
import sys

import fhir.resources
from fhir.resources import construct_fhir_element


def resources(value):
    """The resource and, for a Bundle, every entry's resource."""
    yield value
    for entry in value.get("entry", []) if value.get("resourceType") == "Bundle" else []:
        if "resource" in entry:
            yield from resources(entry["resource"])


def main(folder):
    if fhir.resources.__fhir_version__ != "4.0.1":
        sys.exit(f"fhir.resources {fhir.resources.__version__} models FHIR "
                 f"{fhir.resources.__fhir_version__}, not R4 4.0.1: install fhir.resources==6.4.0")
    print(f"fhir.resources {fhir.resources.__version__}, FHIR {fhir.resources.__fhir_version__}")
    counts = {}
    files = sorted(pathlib.Path(folder).glob("*.json"))
    for path in files:
        value = json.loads(path.read_text(encoding="utf-8"))
        for r in resources(value):
            try:
                construct_fhir_element(r["resourceType"], r)
            except Exception as e:  # pydantic.ValidationError and unknown resource types
                sys.exit(f"{path.name}: {r.get('resourceType')}/{r.get('id')} is not valid FHIR R4:\n{e}")
            counts[r["resourceType"]] = counts.get(r["resourceType"], 0) + 1
    # The library does refuse what is not FHIR: a broken copy of a valid role.
    broken = {"resourceType": "PractitionerRole", "period": {"start": "2021-13-45"},
              "specialty": {"text": "not a list"}}
    try:
        construct_fhir_element("PractitionerRole", broken)
    except Exception:
        print("a broken PractitionerRole is refused")
    else:
        sys.exit("the library accepted a broken PractitionerRole: it is not validating")
    print("counts: " + json.dumps(counts, sort_keys=True))
    print(f"{len(files)} files valid")


if __name__ == "__main__":
    main(sys.argv[1])
