"""FHIR R4 read access /fhir/: Practitioner, PractitionerRole, Organization, CodeSystem."""
