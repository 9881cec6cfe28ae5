"""The admin site (``site``), its dashboard, and the registrations, one module per area of the school's work.

The area modules are imported by ``CrmConfig.ready()``, not here: this package also holds the site's
class, which Django's lazy ``admin.site`` imports when it is first used, and a registration run while
that import is under way would go to a site that is then replaced.
"""
