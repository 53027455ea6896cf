-- Finding admins and supervisors must not scan every member (the watcher does it per pass).
CREATE INDEX member_roles_role ON member_roles(role, member_id);
