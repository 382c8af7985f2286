import hydrogen_test_module_that_does_not_exist  # noqa: F401


class BrokenPlugin:
    pass
