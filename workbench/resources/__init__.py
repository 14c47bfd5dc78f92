"""Files the app reads at run time: the demo dataset, the app icon, the stylesheets.

They ship inside the package (pyproject's package-data), so an installed wheel finds them
without the source tree; look them up with workbench.services.paths.resource(), never by a
path relative to the repository. The scripts that regenerate them live in tools/.
"""
