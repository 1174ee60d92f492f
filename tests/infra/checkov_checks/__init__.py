"""Project checks for checkov (loaded with --external-checks-dir by tests/infra/check_infra.py).

IDs are CKV_NAMEAPI_<n>. Each module registers one check, as checkov's external checks do.
"""
