"""The main window and what surrounds the pages: menus, project context, closing, job status, welcome, app dialogs."""
