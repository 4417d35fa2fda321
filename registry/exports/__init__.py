"""Exports of the public register: CSV and XLSX, streamed or built by a background job (services), and
the pages that start and follow them (views)."""
