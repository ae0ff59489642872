/*
 * cli.h -- the entry points of the deltavec subcommands. main.c parses the
 * subcommand name and calls one of these with the remaining arguments; each
 * returns the process exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef DV_CLI_H
#define DV_CLI_H

int cli_demo(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_ingest(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_follow(int argc, char **argv);

#endif
