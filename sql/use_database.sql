-- Make the attached plan database the default catalog.
USE {alias}
