"""The support staff's side: accounts and sessions, the live hand-off queue, suggested
replies, answers for pasted e-mails, insights, and the redaction of personal data."""
