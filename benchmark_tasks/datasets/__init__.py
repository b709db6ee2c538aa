"""One module per dataset: each declares its tasks and reads the publisher's on-disk layout."""
