"""The privacy notice's version. Change it whenever templates/onboarding/privacy.html
changes in substance: every attempt records the version its applicant agreed to."""

PRIVACY_NOTICE_VERSION = "2026-11-27"
