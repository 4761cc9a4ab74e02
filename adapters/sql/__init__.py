"""The SQL table poller: reads a department's table or view by a watermark column.

``adapters.sql.poller`` contains the source, ``adapters.sql.config`` the
``[poll]`` table of its profile. This package imports neither, so that the
profile loader can import the configuration without the database drivers.
"""
